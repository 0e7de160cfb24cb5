"""`make bench-models`: each embedding model and precision side by side, on the same texts.

For MiniLM (fp32) and MPNet (fp32, int8-mixed, int8 on every layer): texts/s embedding
the texts bench-ingest's workers embed (its events and a document, chunked with their
headers), speed relative to MiniLM, and fidelity two ways: cosine to the reference
vectors sentence-transformers computed (`tests/data/*_reference.json`, long texts
included) and, on the benchmark's own texts, cosine of each MPNet build to MPNet fp32.

Every model runs as `Embedder.all_cores` runs the configured one, the ceiling that
bench-ingest measures: one onnxruntime thread per core, the configured batch size. The
variants take turns within each round, so a machine that slows down mid-run slows
all of them alike; the ratio to MiniLM is the median of the per-round ratios. A build
that is not the one `make model` makes goes to a scratch folder (built once, then
reused). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.ingest import embed_texts, requests_for
from pipeline.config import get_settings
from pipeline.embedding import Embedder
from pipeline.local import model_build
from pipeline.local.model_build import FP32, INT8, INT8_MIXED
from pipeline.models import MINILM, MPNET, ModelSpec

REFERENCES = Path(__file__).parents[1] / "tests" / "data"
VARIANTS: list[tuple[ModelSpec, str]] = [
    (MINILM, FP32),
    (MPNET, FP32),
    (MPNET, INT8_MIXED),
    (MPNET, INT8),
]


@dataclass
class Variant:
    model: ModelSpec
    precision: str
    folder: Path
    built_s: float | None
    embedder: Embedder
    seconds: list[float] = field(default_factory=list)
    vectors: np.ndarray | None = None

    @property
    def label(self) -> str:
        return f"{self.model.name} {self.precision}"


def folder_for(model: ModelSpec, precision: str, scratch: Path) -> Path:
    """`make model`'s folder for the model's own precision; a scratch folder otherwise."""
    settings = get_settings().embedding
    if precision == model_build.RECIPES[model.name].precision:
        return settings.folder(model)
    return scratch / f"{model.folder}-{precision}"


def prepare(model: ModelSpec, precision: str, scratch: Path) -> Variant:
    """Build (or confirm) the folder, and load it as `Embedder.all_cores` would."""
    folder = folder_for(model, precision, scratch)
    built_s = None
    if not model_build.model_is_current(folder, model, precision):
        print(f"building {model.name} {precision} into {folder} ...", flush=True)
        started = time.perf_counter()
        model_build.build_model(folder, model, precision=precision)
        built_s = time.perf_counter() - started
    batch_size = get_settings().embedding.batch_size
    embedder = Embedder(folder, batch_size=batch_size, model=model)
    return Variant(model, precision, folder, built_s, embedder)


def reference_cosines(variant: Variant) -> np.ndarray:
    """Cosine of each reference text's vector to sentence-transformers' vector."""
    data: dict[str, Any] = json.loads(
        (REFERENCES / f"{variant.model.name}_reference.json").read_text()
    )
    expected = np.array([item["vector"] for item in data["items"]], dtype=np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    vectors = variant.embedder.embed([item["text"] for item in data["items"]])
    cosines: np.ndarray = np.sum(vectors.astype(np.float64) * expected, axis=1)
    return cosines


def cpu() -> str:
    """The CPU's name and whether it has VNNI, which decides what int8 MatMuls gain."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    name = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if "model name" in line),
        platform.machine(),
    )
    flags = set(
        next(
            (
                line.split(":", 1)[1].split()
                for line in info.splitlines()
                if line.startswith("flags")
            ),
            [],
        )
    )
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    vnni = "VNNI" if flags & {"avx512_vnni", "avx_vnni", "amx_int8"} else "no VNNI"
    return f"{name}, {simd}, {vnni}"


def spread(values: np.ndarray) -> str:
    return f"{values.min():.4f} / {float(np.median(values)):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64, help="events to take texts from")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every variant")
    parser.add_argument(
        "--scratch",
        type=Path,
        help="folder of the builds `make model` does not make (default: MODELS_DIR/bench)",
    )
    args = parser.parse_args()
    scratch = args.scratch or get_settings().embedding.models_dir / "bench"

    variants = [prepare(model, precision, scratch) for model, precision in VARIANTS]
    minilm = variants[0]
    texts = embed_texts(requests_for(args.texts, 1, 1000), minilm.embedder)
    tokens = [len(minilm.embedder.tokenizer.encode(text).ids) for text in texts]
    for variant in variants:
        variant.embedder.embed(texts[:32])  # warm up: first runs allocate

    for _ in range(args.repeats):
        for variant in variants:
            started = time.perf_counter()
            variant.vectors = variant.embedder.embed(texts)
            variant.seconds.append(time.perf_counter() - started)

    mpnet_fp32 = variants[1].vectors
    assert mpnet_fp32 is not None
    print(
        f"\nembedding models: {len(texts)} texts (bench-ingest's, {statistics.mean(tokens):.0f} "
        f"tokens on average, at most {max(tokens)}), batches of "
        f"{minilm.embedder.batch_size}, all {os.cpu_count()} cores ({cpu()}); "
        f"medians of {args.repeats} rounds\n"
    )
    print(
        f"  {'model':<18}{'texts/s':>9}{'vs MiniLM':>11}  {'reference cos min / median':>27}"
        f"  {'cos to MPNet fp32 min / median':>31}{'MB':>6}{'built in':>13}"
    )
    for variant in variants:
        assert variant.vectors is not None
        ratios = [m / s for m, s in zip(minilm.seconds, variant.seconds, strict=True)]
        to_fp32 = (
            spread(np.sum(variant.vectors * mpnet_fp32, axis=1)) if variant.model is MPNET else "-"
        )
        size_mb = (variant.folder / "model.onnx").stat().st_size / 1e6
        built = f"{variant.built_s:.0f} s" if variant.built_s is not None else "(was built)"
        print(
            f"  {variant.label:<18}{len(texts) / statistics.median(variant.seconds):>9.1f}"
            f"{statistics.median(ratios):>10.2f}x  {spread(reference_cosines(variant)):>27}"
            f"  {to_fp32:>31}{size_mb:>6.0f}{built:>13}"
        )


if __name__ == "__main__":
    main()

"""The hand-built ONNX model, run through fastembed, gives sentence-transformers' vectors.

The reference vectors were computed by sentence-transformers on torch (see
`tests/data/make_minilm_reference.py`); matching them on short and long texts checks
the graph, the tokenizer files and the 256-token truncation together. The model is
built once for the module, into a temporary folder, exactly as production builds it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline import placing
from pipeline.chunking import Piece
from pipeline.embedding import Embedder
from pipeline.local.model_build import MARKER, MODEL_FILES, build_model
from pipeline.slots import lowest_priority

REFERENCE = Path(__file__).parents[1] / "data" / "minilm_reference.json"
MIN_COSINE = 0.999


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("models") / "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> Embedder:
    return Embedder(model_dir, threads=2, batch_size=64)


@pytest.fixture(scope="module")
def vectors(embedder: Embedder, reference: dict[str, Any]) -> np.ndarray:
    return embedder.embed([item["text"] for item in reference["items"]])


def test_reference_covers_short_and_long_texts(reference: dict[str, Any]) -> None:
    long_items = [item for item in reference["items"] if item["long"]]
    assert len(long_items) >= 3
    assert len(reference["items"]) - len(long_items) >= 3


def test_every_vector_matches_the_reference(vectors: np.ndarray, reference: dict[str, Any]) -> None:
    expected = np.array([item["vector"] for item in reference["items"]], dtype=np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)  # undo the rounding's drift
    cosines = np.sum(vectors.astype(np.float64) * expected, axis=1)
    by_text = {
        item["text"][:40]: round(float(c), 6)
        for item, c in zip(reference["items"], cosines, strict=True)
    }
    assert cosines.min() >= MIN_COSINE, by_text


def test_vectors_are_float32_unit_rows_of_384(embedder: Embedder, vectors: np.ndarray) -> None:
    assert embedder.dim == 384
    assert vectors.dtype == np.float32
    assert vectors.shape == (8, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_long_texts_are_truncated_at_256_tokens(
    embedder: Embedder, vectors: np.ndarray, reference: dict[str, Any]
) -> None:
    assert embedder.max_tokens == 256
    items = reference["items"]
    for item in items:
        # Same count as the reference tokenizer: the chunker sizes chunks with it.
        assert len(embedder.tokenizer.encode(item["text"]).ids) == item["tokens_untruncated"]

    long_texts = [item["text"] for item in items if item["long"]]
    assert all(len(embedder.tokenizer.encode(text).ids) > 256 for text in long_texts)
    extended = embedder.embed([text + " And then something else entirely." for text in long_texts])
    original = vectors[[i for i, item in enumerate(items) if item["long"]]]
    np.testing.assert_allclose(extended, original, atol=1e-6)


def test_build_is_idempotent_and_replaces_a_broken_folder(model_dir: Path, tmp_path: Path) -> None:
    stamp = (model_dir / "model.onnx").stat().st_mtime_ns
    assert build_model(model_dir) == model_dir
    assert (model_dir / "model.onnx").stat().st_mtime_ns == stamp

    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"half a model")
    build_model(broken)
    assert all((broken / name).is_file() for name in MODEL_FILES)
    assert (broken / "model.onnx").stat().st_size > 80_000_000
    marker = json.loads((broken / MARKER).read_text())
    assert (marker["max_tokens"], marker["precision"]) == (256, "fp32")
    assert "quantization" not in marker
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging left behind


def test_several_streams_give_each_piece_its_own_vector(
    embedder: Embedder, reference: dict[str, Any]
) -> None:
    texts = [item["text"] for item in reference["items"]]
    pieces = [Piece(n, t, t, len(t)) for n, t in enumerate(texts + texts[:3])]
    one = np.asarray(placing.embed(embedder, pieces))
    with ThreadPoolExecutor(3, initializer=lowest_priority) as pool:
        three = np.asarray(placing.embed(embedder, pieces, streams=3, pool=pool))
    assert one.shape == (len(pieces), 384)
    assert np.allclose(one, three, atol=1e-5)
    assert np.allclose(three[len(texts) :], three[:3])  # a repeated text, its vector again

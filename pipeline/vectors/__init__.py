"""The vector index: one interface, a Qdrant server or Qdrant Edge behind it.

The pipeline asks `open_index` for a `VectorIndex` and never learns which one
it got: the distributed shape sets a server URL, the embedded default keeps a
shard on local disk owned by one worker process.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.vectors.base import (
    DENSE_VECTOR,
    LEXICAL_VECTOR,
    PAYLOAD_INDEXES,
    Hit,
    IndexLocked,
    Point,
    SearchFilter,
    Terms,
    VectorIndex,
    chunk_point_id,
    point_id,
    tenant_key,
)

__all__ = [
    "DENSE_VECTOR",
    "LEXICAL_VECTOR",
    "PAYLOAD_INDEXES",
    "Hit",
    "IndexLocked",
    "Point",
    "SearchFilter",
    "Terms",
    "VectorIndex",
    "chunk_point_id",
    "open_index",
    "point_id",
    "tenant_key",
]


def open_index(
    url: str | None,
    path: Path,
    dim: int,
    collection: str = "chunks",
    *,
    lexical: bool = False,
    api_key: str | None = None,
) -> VectorIndex:
    """The server index when `url` is set, else the embedded one under `path`.

    The embedded shard lives in ``path / collection``, so a second collection
    (say, for re-embedding with another model) sits beside the first exactly
    as it would on a server. With `lexical`, its points hold their terms too.
    The embedded index raises `IndexLocked` when another process already owns
    that folder.
    """
    # Imported here so a process that uses one back end never loads the other.
    if url:
        from pipeline.vectors.server import ServerIndex

        return ServerIndex(url, dim, collection, lexical=lexical, api_key=api_key)
    from pipeline.vectors.edge import EdgeIndex

    return EdgeIndex(Path(path) / collection, dim, lexical=lexical)

"""Items into one generation: chunked, embedded, and written as points and chunk rows.

Live ingestion (`ingest.index`) and reprocessing (`reprocess`) both end here, so
an item is written the same way whichever put it there:

1. `embed` the pieces with the generation's model, each distinct text once,
   shortest first (a batch pads to its longest text, and padding is most of the
   cost of mixed batches), with no transaction open;
2. `place`, in the caller's transaction and under the user's write lock: upsert
   the points (deterministic ids, so a re-run overwrites), delete the points of
   ordinals a shorter new version no longer has, flush (durable before the rows
   say so), and replace the items' chunk rows of that generation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline.chunking import Piece, Source, header
from pipeline.db.models import Chunk, Item
from pipeline.embedding import Embedder
from pipeline.generations import Generation
from pipeline.metrics import INDEX_SECONDS
from pipeline.vectors import Point, VectorIndex, chunk_point_id, tenant_key
from pipeline.vectors.terms import TermEncoder

EMBED_SLICE = 256
"""Texts embedded between two calls of `embed`'s `between` (about a second of work)."""

Between = Callable[[int, int], None]
"""Called with (texts done, texts in all) before each slice `embed` embeds."""


ITEM_COLUMNS = (
    Item.id,
    Item.kind,
    Item.external_id,
    Item.content_hash,
    Item.source,
    Item.type,
    Item.title,
    Item.ts,
)
"""The columns of `items` an `ItemText` is made of, its content aside (selected with them
where the content is chunked, left out where only stored chunks are read)."""


@dataclass(frozen=True)
class ItemText:
    """An item as it is chunked: its row id, its identity and its content."""

    id: int
    kind: str
    external_id: str
    content_hash: str
    source: Source

    @classmethod
    def of(cls, row: Any, content: str) -> ItemText:
        """From a result row holding `ITEM_COLUMNS`."""
        return cls(
            row.id,
            row.kind,
            row.external_id,
            row.content_hash,
            Source(row.kind, row.source, row.type, row.title, row.ts, content),
        )


@dataclass(frozen=True)
class Owner:
    """Whose items these are: every point and row is the user's."""

    org_id: int
    user_pk: int

    def point_id(self, item: ItemText, ordinal: int) -> str:
        return chunk_point_id(self.org_id, self.user_pk, item.kind, item.external_id, ordinal)


def embed(
    embedder: Embedder,
    pieces: list[Piece],
    between: Between | None = None,
    slice_size: int = EMBED_SLICE,
    streams: int = 1,
    pool: Executor | None = None,
) -> list[list[float]]:
    """Vectors for `pieces` (step 1). `between(done, total)` is called before each slice
    of texts: a job checks its time limit there. Background work (holding `streams`
    slots, no `between`) embeds on `pool`, the runtime's lowest-priority threads: the
    texts are dealt round-robin to `streams` model streams at once, each share still
    shortest first."""
    unique = sorted({p.embed_text: p.token_count for p in pieces}.items(), key=lambda kv: kv[1])
    texts = [t for t, _ in unique]
    by_text: dict[str, list[float]] = {}
    assert streams == 1 or pool is not None, "more streams than one run on a pool"
    if pool is not None:
        assert between is None, "a deadline is checked on one stream only"
        shares = [texts[k::streams] for k in range(min(streams, len(texts)))]
        for share, vectors in zip(shares, pool.map(embedder.embed, shares), strict=True):
            by_text.update(zip(share, vectors, strict=True))
        return [by_text[p.embed_text] for p in pieces]
    for start in range(0, len(texts), slice_size):
        if between is not None:
            between(start, len(texts))
        batch = texts[start : start + slice_size]
        by_text.update(zip(batch, embedder.embed(batch), strict=True))
    return [by_text[p.embed_text] for p in pieces]


def embed_items(
    embedder: Embedder,
    items: list[ItemText],
    chunked: dict[int, list[Piece]],
    between: Between | None = None,
    streams: int = 1,
    pool: Executor | None = None,
) -> dict[int, list[list[float]]]:
    """`embed` for the pieces of `items`, handed back per item."""
    pieces = [p for i in items for p in chunked[i.id]]
    flat = embed(embedder, pieces, between, streams=streams, pool=pool)
    vectors: dict[int, list[list[float]]] = {}
    cursor = 0
    for item in items:
        n = len(chunked[item.id])
        vectors[item.id] = flat[cursor : cursor + n]
        cursor += n
    return vectors


def payload(owner: Owner, item: ItemText, piece: Piece) -> dict[str, object]:
    """What the index keeps of a chunk: the filters' fields, and all that a search shows
    (its words, header and time), so that a search reads no row to answer."""
    ts = item.source.ts if isinstance(item.source.ts, datetime) else None
    return {
        "tenant": tenant_key(owner.org_id, owner.user_pk),
        "org": owner.org_id,
        "item_id": item.id,
        "kind": item.kind,
        "external_id": item.external_id,
        "ordinal": piece.ordinal,
        "source": item.source.source,
        "type": item.source.type,
        "ts": int(ts.timestamp()) if ts else None,
        "at": ts.astimezone(UTC).isoformat() if ts else None,
        "text": piece.text,
        "context": header(item.source),
    }


@dataclass(frozen=True)
class Target:
    """Where items are placed: a generation, its collection, and the encoder of its
    points' terms when they hold their words (`models.LexicalSpec.in_index`)."""

    generation: Generation
    index: VectorIndex
    terms: TermEncoder | None

    def point(self, owner: Owner, item: ItemText, piece: Piece, vector: list[float]) -> Point:
        """A chunk as its point: the id, the vector, the payload, and the terms of the
        text the model embedded."""
        terms = self.terms.document(piece.embed_text) if self.terms else None
        return Point(
            owner.point_id(item, piece.ordinal), vector, payload(owner, item, piece), terms
        )


def place(
    session: Session,
    target: Target,
    owner: Owner,
    items: list[ItemText],
    chunked: dict[int, list[Piece]],
    vectors: dict[int, list[list[float]]],
) -> int:
    """`place_all` for one user's items."""
    return place_all(session, target, [(owner, items)], chunked, vectors)


def place_all(
    session: Session,
    target: Target,
    parts: list[tuple[Owner, list[ItemText]]],
    chunked: dict[int, list[Piece]],
    vectors: dict[int, list[list[float]]],
) -> int:
    """Step 2 of the module docstring for the items of several users at once (one index
    upsert and one flush); returns the number of chunks written. The caller holds each
    user's write lock and has checked that the items are still current."""
    parts = [(owner, items) for owner, items in parts if items]
    if not parts:
        return 0
    generation_id, index = target.generation.id, target.index
    placed = [
        (owner, item, piece, target.point(owner, item, piece, vector))
        for owner, items in parts
        for item in items
        for piece, vector in zip(chunked[item.id], vectors[item.id], strict=True)
    ]
    new_counts = {i.id: len(chunked[i.id]) for _, items in parts for i in items}
    by_id = {i.id: (owner, i) for owner, items in parts for i in items}
    stale = [
        by_id[r.item_id][0].point_id(by_id[r.item_id][1], r.ordinal)
        for r in session.execute(
            select(Chunk.item_id, Chunk.ordinal).where(
                Chunk.item_id.in_(list(new_counts)), Chunk.generation_id == generation_id
            )
        )
        if r.ordinal >= new_counts[r.item_id]
    ]
    with INDEX_SECONDS.labels("upsert").time():
        index.upsert([point for *_, point in placed])
        if stale:
            index.delete(stale)
        index.flush()  # durable before the rows say the items are indexed
    session.execute(
        delete(Chunk).where(
            Chunk.item_id.in_(list(new_counts)), Chunk.generation_id == generation_id
        )
    )
    if placed:
        rows = [
            {
                "item_id": i.id,
                "generation_id": generation_id,
                "user_pk": owner.user_pk,
                "ordinal": p.ordinal,
                "text": p.text,
                "context": header(i.source),
                "token_count": p.token_count,
                "model": target.generation.model.hub_id,
                "point_id": uuid.UUID(point.id),
            }
            for owner, i, p, point in placed
        ]
        session.execute(insert(Chunk), rows)  # executemany: batched by the driver
    return len(placed)

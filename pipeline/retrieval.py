"""Finding a user's chunks for a query: embed, search the user's points, read the truth.

The index is a copy: every hit is joined back to its chunk row in Postgres,
and a point with no row (left by a crash, or by an erasure in progress) is
dropped rather than shown.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pipeline import users
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item
from pipeline.indexing import tenant_key
from pipeline.runtime import Runtime
from pipeline.schemas import ChunkOut, ChunksRequest
from pipeline.vectors import SearchFilter


def search_chunks(runtime: Runtime, org_id: int, request: ChunksRequest) -> list[ChunkOut]:
    """The `top_k` chunks of the user closest to the query, best first."""
    with session_scope(runtime.engine) as session:
        user_pk = users.get(session, org_id, request.user_id).id
    since = None
    if request.freshness_days is not None:
        since = int((datetime.now(UTC) - timedelta(days=request.freshness_days)).timestamp())
    flt = SearchFilter(
        tenant=tenant_key(org_id, user_pk),
        since_ts=since,
        sources=request.sources,
        types=request.types,
    )
    vector = runtime.embed_query(request.query)
    hits = runtime.index.search(vector, flt, limit=request.top_k)
    if not hits:
        return []
    with session_scope(runtime.engine) as session:
        rows = {
            str(row.point_id): row
            for row in session.execute(
                select(
                    Chunk.point_id,
                    Chunk.text,
                    Item.kind,
                    Item.external_id,
                    Item.source,
                    Item.type,
                    Item.ts,
                )
                .join(Item, Item.id == Chunk.item_id)
                .where(
                    Chunk.point_id.in_([uuid.UUID(h.id) for h in hits]),
                    Chunk.user_pk == user_pk,
                )
            )
        }
    out = []
    for hit in hits:
        row = rows.get(hit.id)
        if row is None:
            continue
        is_event = row.kind == "event"
        out.append(
            ChunkOut(
                chunk_id=hit.id,
                text=row.text,
                score=round(float(hit.score), 6),
                event_id=row.external_id if is_event else None,
                document_id=None if is_event else row.external_id,
                source=row.source,
                type=row.type,
                timestamp=row.ts,
            )
        )
    return out

"""What one user occupies in each store: the numbers an erasure must bring to zero,
and the check that a re-run or a retry stored nothing twice."""

from __future__ import annotations

from sqlalchemy import func, select

from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item, User
from pipeline.indexing import tenant_key
from pipeline.runtime import Runtime


def user_footprint(runtime: Runtime, org_id: int, user_id: str) -> dict[str, int]:
    with session_scope(runtime.engine) as session:
        user_pk = session.execute(
            select(User.id).where(User.org_id == org_id, User.user_id == user_id)
        ).scalar()
        if user_pk is None:
            return {"items": 0, "chunks": 0, "points": 0}
        items = session.execute(
            select(func.count()).select_from(Item).where(Item.user_pk == user_pk)
        ).scalar_one()
        chunks = session.execute(
            select(func.count()).select_from(Chunk).where(Chunk.user_pk == user_pk)
        ).scalar_one()
    points = runtime.index.count(tenant_key(org_id, user_pk))
    return {"items": items, "chunks": chunks, "points": points}

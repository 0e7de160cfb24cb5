"""What one user occupies in each store, found exactly the way the erasure removes it.

Rows: every table of the schema with a `user_pk` column, found in the catalog
(so a table added later is covered without a change here), and the user row.
Points: the user's tenant in the collection of every generation not yet
dropped. Redis: the keys under the user's prefix. The erasure deletes by the
same three rules and then counts again with this module, so what it reports and
what it removes cannot disagree.

The `jobs` table is the one exception: job rows are the record of work done
(counts, status, the erasure's own report) and are kept (see `run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import TopologicalSorter

import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pipeline import generations, keyspace
from pipeline.db.engine import session_scope
from pipeline.db.models import User
from pipeline.runtime import Runtime
from pipeline.vectors import tenant_key

KEPT_TABLES = frozenset({"jobs"})
"""Tables with a `user_pk` that an erasure keeps (see the module docstring)."""

SCAN_BATCH = 1000


def user_tables(session: Session) -> list[str]:
    """Tables of this schema with a `user_pk` column, children before parents, so that
    each delete's row count is exact and no foreign key without a cascade blocks one."""
    names = set(
        session.execute(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = 'user_pk' AND table_schema = current_schema()"
            )
        ).scalars()
    )
    names -= KEPT_TABLES
    edges = session.execute(
        text(
            "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent "
            "FROM pg_constraint c WHERE c.contype = 'f'"
        )
    )
    order: TopologicalSorter[str] = TopologicalSorter({name: () for name in sorted(names)})
    for child, parent in edges:
        if child in names and parent in names and child != parent:
            order.add(parent, child)  # a parent comes after each of its children
    return list(order.static_order())


def quoted(session: Session, table: str) -> str:
    return session.get_bind().dialect.identifier_preparer.quote(table)


def count_rows(session: Session, user_pk: int) -> dict[str, int]:
    """Rows of the user in each table (the user row included, as `users`)."""
    counts = {
        table: session.execute(
            text(f"SELECT count(*) FROM {quoted(session, table)} WHERE user_pk = :pk"),  # noqa: S608
            {"pk": user_pk},
        ).scalar_one()
        for table in user_tables(session)
    }
    counts["users"] = session.execute(
        select(func.count()).select_from(User).where(User.id == user_pk)
    ).scalar_one()
    return counts


def user_keys(client: redis.Redis, user_pk: int) -> list[bytes]:
    """Every Redis key of the user."""
    return list(client.scan_iter(match=keyspace.user_pattern(user_pk), count=SCAN_BATCH))


@dataclass(frozen=True)
class Footprint:
    """A user's rows per table, points in the index and keys in Redis."""

    rows: dict[str, int]
    points: int
    keys: int

    def residue(self) -> dict[str, int]:
        """The totals an erasure must bring to zero (its report's `recheck`)."""
        return {
            "postgres_rows": sum(self.rows.values()),
            "qdrant_points": self.points,
            "redis_keys": self.keys,
        }

    def to_json(self) -> dict[str, object]:
        return {"postgres": self.rows, "qdrant_points": self.points, "redis_keys": self.keys}


def footprint(runtime: Runtime, org_id: int, user_pk: int) -> Footprint:
    """What the user (by row id, which outlives the row) holds in every store now: its
    points counted in every generation that still has a collection."""
    with session_scope(runtime.engine) as session:
        rows = count_rows(session, user_pk)
        live = generations.live(session)
    tenant = tenant_key(org_id, user_pk)
    points = sum(runtime.index(generation).count(tenant) for generation in live)
    return Footprint(rows, points, len(user_keys(runtime.redis, user_pk)))

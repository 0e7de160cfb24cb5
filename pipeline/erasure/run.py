"""Erasing a user everywhere: Postgres rows, Qdrant points, Redis keys, then proof.

The erasure job runs after `pipeline.deletion` marked the user `deleting`. It is
idempotent and keyed by the user's row id (`user_pk`, kept on the job row), so
a redelivered or re-published message finishes what a crashed attempt began:

1. one transaction under the user's advisory lock (the lock every indexing
   write takes): delete the user's rows from every table with a `user_pk`
   column, found in the catalog so that tables added later are covered without
   a change here, children before parents, then the user row. When it commits,
   an indexing job that was waiting for the lock finds no user and drops its
   work; one that held the lock before has committed its points already;
2. with no transaction open: delete the user's points by tenant, and the Redis
   keys under ``persona:user:{user_pk}:``;
3. re-check every store; the counts removed and the re-check are the job's
   result (what `GET /jobs/{id}` shows). A non-zero re-check is retried.

The `jobs` table is the one exception: job rows are the record of work done
(counts, status, the erasure's own report) and hold no content of the user;
their `user_id` (which may be an e-mail address) is replaced by `ERASED`, except
on the deletion jobs, which say whom they erased.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from graphlib import TopologicalSorter

import redis
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from pipeline import indexing, jobs
from pipeline.db.engine import session_scope
from pipeline.db.models import Job, User
from pipeline.errors import Retryable
from pipeline.indexing import lock_user, tenant_key
from pipeline.runtime import Runtime

log = logging.getLogger("persona.erasure")

KEPT_TABLES = frozenset({"jobs"})
"""Tables with a `user_pk` that an erasure keeps (see the module docstring)."""

SCAN_BATCH = 1000
ERASED = "[erased]"


def user_key_pattern(user_pk: int) -> str:
    """Every Redis key holding a user's data starts with this prefix (a project rule)."""
    return f"persona:user:{user_pk}:*"


@dataclass(frozen=True)
class Target:
    job_id: str
    org_id: int
    user_pk: int


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


def _quoted(session: Session, table: str) -> str:
    return session.get_bind().dialect.identifier_preparer.quote(table)


def delete_rows(session: Session, user_pk: int) -> dict[str, int]:
    """Delete the user's rows everywhere, the user row last; returns rows per table."""
    removed: dict[str, int] = {}
    for table in user_tables(session):
        result = session.execute(
            text(f"DELETE FROM {_quoted(session, table)} WHERE user_pk = :pk"),  # noqa: S608
            {"pk": user_pk},
        )
        removed[table] = result.rowcount  # type: ignore[attr-defined]
    result = session.execute(delete(User).where(User.id == user_pk))
    removed["users"] = result.rowcount  # type: ignore[attr-defined]
    result = session.execute(
        update(Job)
        .where(Job.user_pk == user_pk, Job.kind != "delete", Job.user_id != ERASED)
        .values(user_id=ERASED)
    )
    removed["job_user_ids_scrubbed"] = result.rowcount  # type: ignore[attr-defined]
    return removed


def erase_rows(session: Session, user_pk: int) -> dict[str, int]:
    """`delete_rows` under the user's advisory lock: waits for an indexing write in
    progress to commit, and any write after it finds the user gone."""
    lock_user(session, user_pk)
    return delete_rows(session, user_pk)


def count_rows(session: Session, user_pk: int) -> dict[str, int]:
    """Rows of the user left in each table (the user row included)."""
    counts = {
        table: session.execute(
            text(f"SELECT count(*) FROM {_quoted(session, table)} WHERE user_pk = :pk"),  # noqa: S608
            {"pk": user_pk},
        ).scalar_one()
        for table in user_tables(session)
    }
    counts["users"] = session.execute(
        select(func.count()).select_from(User).where(User.id == user_pk)
    ).scalar_one()
    return counts


def delete_keys(client: redis.Redis, user_pk: int) -> int:
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=user_key_pattern(user_pk), count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            removed += int(client.unlink(*batch))
            batch = []
    if batch:
        removed += int(client.unlink(*batch))
    return removed


def count_keys(client: redis.Redis, user_pk: int) -> int:
    return sum(1 for _ in client.scan_iter(match=user_key_pattern(user_pk), count=SCAN_BATCH))


def residue(runtime: Runtime, org_id: int, user_pk: int) -> dict[str, int]:
    """What is left of a user in every store: all zeros once it is erased."""
    with session_scope(runtime.engine) as session:
        rows = count_rows(session, user_pk)
    return {
        "postgres_rows": sum(rows.values()),
        "qdrant_points": runtime.index.count(tenant_key(org_id, user_pk)),
        "redis_keys": count_keys(runtime.redis, user_pk),
    }


def _claim(session: Session, job_id: str) -> Target | None:
    job = jobs.claim(session, job_id)
    return None if job is None else Target(job.id, job.org_id, job.user_pk)


# Indexing's transient failures, and Redis's: the erasure deletes keys there too.
TRANSIENT: tuple[type[BaseException], ...] = (*indexing.TRANSIENT, redis.RedisError)


def run_erasure_job(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    """Erase the user of `job_id` everywhere and record the report; None if the job
    was already finished. Raises `Retryable` for transient failures and for residue."""
    try:
        return _run(runtime, job_id)
    except TRANSIENT as exc:
        raise Retryable(f"{type(exc).__name__}: {exc}") from exc


def _run(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    t0 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        target = _claim(session, job_id)
    if target is None:
        return None
    with session_scope(runtime.engine) as session:
        rows = erase_rows(session, target.user_pk)
    t1 = time.perf_counter()
    tenant = tenant_key(target.org_id, target.user_pk)
    points = runtime.index.count(tenant)
    runtime.index.delete_tenant(tenant)
    t2 = time.perf_counter()
    keys = delete_keys(runtime.redis, target.user_pk)
    t3 = time.perf_counter()
    recheck = residue(runtime, target.org_id, target.user_pk)
    report: dict[str, object] = {
        "removed": {"postgres": rows, "qdrant_points": points, "redis_keys": keys},
        "recheck": recheck,
    }
    if any(recheck.values()):
        raise Retryable(f"erasure left residue {recheck}; retrying")
    t4 = time.perf_counter()
    timings = jobs.stage_ms(t0, ("postgres", t1), ("qdrant", t2), ("redis", t3), ("recheck", t4))
    with session_scope(runtime.engine) as session:
        jobs.complete(session, job_id, report, timings)
    log.info("erased user %s of org %s: %s", target.user_pk, target.org_id, report["removed"])
    return report

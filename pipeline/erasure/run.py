"""Erasing a user everywhere: Postgres rows, Qdrant points, Redis keys, then proof.

The erasure job runs after `request` marked the user `deleting`. It is
idempotent and keyed by the user's row id (`user_pk`, kept on the job row), so
a redelivered or re-published message finishes what a crashed attempt began:

1. one transaction under the user's write lock (the lock every indexing write
   takes): delete the user's rows from every table `footprint` finds, children
   before parents, then the user row. When it commits, an indexing job that was
   waiting for the lock finds no user and drops its work; one that held the
   lock before has committed its points already;
2. with no transaction open: delete the user's points by tenant, and the Redis
   keys under the user's prefix;
3. count every store again (`footprint`); the counts removed and the re-check
   are the job's result (what `GET /jobs/{id}` shows). A non-zero re-check is
   retried.

Job rows are kept as the record of work (counts, status, this report), with
no content of the user; their `user_id` (which may be an e-mail address) is
replaced by `ERASED`, except on the deletion jobs, which say whom they erased.
"""

from __future__ import annotations

import logging
import time

import redis
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.db.engine import session_scope
from pipeline.db.models import Job, User
from pipeline.erasure.footprint import SCAN_BATCH, footprint, quoted, user_keys, user_tables
from pipeline.errors import Retryable, transient_is_retryable
from pipeline.runtime import Runtime
from pipeline.status import JobKind
from pipeline.vectors import tenant_key

log = logging.getLogger("persona.erasure")

ERASED = "[erased]"


def erase_rows(session: Session, user_pk: int) -> dict[str, int]:
    """Delete the user's rows everywhere, the user row last, under the user's write lock:
    waits for an indexing write in progress to commit, and any write after it finds the
    user gone. Returns the rows removed per table."""
    users.lock_writes(session, user_pk)
    removed: dict[str, int] = {}
    for table in user_tables(session):
        result = session.execute(
            text(f"DELETE FROM {quoted(session, table)} WHERE user_pk = :pk"),  # noqa: S608
            {"pk": user_pk},
        )
        removed[table] = result.rowcount  # type: ignore[attr-defined]
    result = session.execute(delete(User).where(User.id == user_pk))
    removed["users"] = result.rowcount  # type: ignore[attr-defined]
    result = session.execute(
        update(Job)
        .where(Job.user_pk == user_pk, Job.kind != JobKind.DELETE, Job.user_id != ERASED)
        .values(user_id=ERASED)
    )
    removed["job_user_ids_scrubbed"] = result.rowcount  # type: ignore[attr-defined]
    return removed


def delete_keys(client: redis.Redis, user_pk: int) -> int:
    """Unlink every Redis key of the user, in batches; returns how many went."""
    found = user_keys(client, user_pk)
    return sum(
        int(client.unlink(*found[i : i + SCAN_BATCH])) for i in range(0, len(found), SCAN_BATCH)
    )


def run_erasure_job(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    """Erase the user of `job_id` everywhere and record the report; None if the job
    was already finished. Raises `Retryable` for transient failures and for residue."""
    with transient_is_retryable():
        return _run(runtime, job_id)


def _run(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    t0 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        job = jobs.claim(session, job_id)
        if job is None:
            return None
        org_id, user_pk = job.org_id, job.user_pk
    with session_scope(runtime.engine) as session:
        rows = erase_rows(session, user_pk)
    t1 = time.perf_counter()
    tenant = tenant_key(org_id, user_pk)
    points = runtime.index.count(tenant)
    runtime.index.delete_tenant(tenant)
    t2 = time.perf_counter()
    keys = delete_keys(runtime.redis, user_pk)
    t3 = time.perf_counter()
    recheck = footprint(runtime, org_id, user_pk).residue()
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
    log.info("erased user %s of org %s: %s", user_pk, org_id, report["removed"])
    return report

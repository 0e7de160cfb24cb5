"""Erasing a user everywhere: Postgres rows, Qdrant points, Redis keys, then proof.

The erasure job runs after `request` marked the user `deleting`. It is
idempotent and keyed by the user's row id (`user_pk`, kept on the job row), so
a redelivered or re-published message finishes what a crashed attempt began:

1. one transaction under the user's write lock (the lock every indexing write
   takes): delete the user's rows from every table `footprint` finds, children
   before parents, all but the user row itself, which stays `deleting`. An
   indexing job that was waiting for the lock finds the user deleting and drops
   its work; one that held the lock before has committed its points already;
2. with no transaction open: delete the user's points by tenant from the
   collection of every generation not dropped (a reindex may be building one) and
   compact each (`VectorIndex.compact`), delete the Redis keys under the user's prefix
   and rewrite Redis's append-only file, so that the user's text is in no live
   file of either (the report's `compacted` says where that is so; PostgreSQL
   keeps deleted rows' bytes in its WAL until it is recycled and in freed page
   space until it is reused, see the README);
3. count the index and Redis again (`footprint`);
4. one transaction, under the lock again: delete the user row, count its rows
   once more, and record the counts removed and the re-check as the job's
   result (what `GET /jobs/{id}` shows). Until this commits every write for
   the user answers USER_DELETING, as the deletion request promised; after it,
   the user is gone. A non-zero re-check is retried.

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

from pipeline import generations, jobs, users
from pipeline.db.engine import session_scope
from pipeline.db.models import Job, User
from pipeline.erasure.footprint import (
    SCAN_BATCH,
    count_rows,
    footprint,
    quoted,
    user_keys,
    user_tables,
)
from pipeline.errors import Retryable, transient_is_retryable
from pipeline.generations import Generation
from pipeline.runtime import Runtime
from pipeline.status import EventType, JobKind
from pipeline.vectors import tenant_key
from pipeline.webhooks import outbox

log = logging.getLogger("persona.erasure")

ERASED = "[erased]"
AOF_TIMEOUT_S = 60.0
AOF_POLL_S = 0.05


def erase_rows(session: Session, user_pk: int) -> dict[str, int]:
    """Delete the user's rows everywhere but the user row, under the user's write lock:
    waits for an indexing write in progress to commit, and any write after it finds the
    user deleting. Returns the rows removed per table."""
    users.lock_writes(session, user_pk)
    removed: dict[str, int] = {}
    for table in user_tables(session):
        result = session.execute(
            text(f"DELETE FROM {quoted(session, table)} WHERE user_pk = :pk"),  # noqa: S608
            {"pk": user_pk},
        )
        removed[table] = result.rowcount  # type: ignore[attr-defined]
    result = session.execute(
        update(Job)
        .where(Job.user_pk == user_pk, Job.kind != JobKind.DELETE, Job.user_id != ERASED)
        .values(user_id=ERASED)
    )
    removed["job_user_ids_scrubbed"] = result.rowcount  # type: ignore[attr-defined]
    return removed


def forget_user(session: Session, user_pk: int) -> int:
    """The last step: the user row goes, under the write lock; returns rows deleted."""
    users.lock_writes(session, user_pk)
    result = session.execute(delete(User).where(User.id == user_pk))
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_keys(client: redis.Redis, user_pk: int) -> int:
    """Unlink every Redis key of the user, in batches; returns how many went."""
    found = user_keys(client, user_pk)
    return sum(
        int(client.unlink(*found[i : i + SCAN_BATCH])) for i in range(0, len(found), SCAN_BATCH)
    )


def rewrite_aof(client: redis.Redis, timeout_s: float = AOF_TIMEOUT_S) -> bool:
    """Rewrite Redis's append-only file from what Redis holds now, so that deleted keys
    are in no file; True once a rewrite that started after the deletion has finished.
    False where Redis keeps no append-only file or will not rewrite it (a managed
    Redis may refuse the command): the report says so."""
    deadline = time.monotonic() + timeout_s
    try:
        if not int(client.info("persistence").get("aof_enabled", 0)):
            return False
        while True:  # one already running may have begun before the deletion: wait it out
            try:
                client.bgrewriteaof()
                break
            except redis.ResponseError as exc:
                if "already in progress" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(AOF_POLL_S)
        while time.monotonic() < deadline:
            state = client.info("persistence")
            if not int(state["aof_rewrite_in_progress"]) and not int(
                state["aof_rewrite_scheduled"]
            ):
                return state.get("aof_last_bgrewrite_status") == "ok"
            time.sleep(AOF_POLL_S)
    except redis.ResponseError as exc:
        log.warning("Redis did not rewrite its append-only file: %s", exc)
    return False


def erase_points(runtime: Runtime, live: list[Generation], tenant: str) -> tuple[int, bool]:
    """Delete the user's points from every generation's collection (a reindex may be
    building one) and compact each; returns the points removed and whether every
    collection could promise the text is gone."""
    points, compacted = 0, True
    for generation in live:
        index = runtime.index(generation)
        points += index.count(tenant)
        index.delete_tenant(tenant)
        compacted = index.compact() and compacted
    return points, compacted


def run_erasure_job(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    """Erase the user of `job_id` everywhere and record the report; None if the job
    was already finished. Raises `Retryable` for transient failures and for residue."""
    with transient_is_retryable():
        return _run(runtime, job_id)


def _run(runtime: Runtime, job_id: str) -> dict[str, object] | None:
    t0 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        job = jobs.claim(session, job_id, runtime.worker_id)
        if job is None:
            return None
        org_id, user_pk, user_id = job.org_id, job.user_pk, job.user_id
        assert user_pk is not None, "an erasure names its user"
    with session_scope(runtime.engine) as session:
        rows = erase_rows(session, user_pk)
        live = generations.live(session)
    t1 = time.perf_counter()
    points, index_compacted = erase_points(runtime, live, tenant_key(org_id, user_pk))
    t2 = time.perf_counter()
    keys = delete_keys(runtime.redis, user_pk)
    compacted = {"qdrant": index_compacted, "redis": rewrite_aof(runtime.redis)}
    t3 = time.perf_counter()
    elsewhere = footprint(runtime, org_id, user_pk)
    with session_scope(runtime.engine) as session:
        rows["users"] = forget_user(session, user_pk)
        recheck = {
            **elsewhere.residue(),
            "postgres_rows": sum(count_rows(session, user_pk).values()),
        }
        if any(recheck.values()):
            raise Retryable(f"erasure left residue {recheck}; retrying")
        report: dict[str, object] = {
            "removed": {"postgres": rows, "qdrant_points": points, "redis_keys": keys},
            "recheck": recheck,
            "compacted": compacted,
        }
        t4 = time.perf_counter()
        timings = jobs.stage_ms(
            t0, ("postgres", t1), ("qdrant", t2), ("redis", t3), ("recheck", t4)
        )
        jobs.complete(session, job_id, report, timings)
        outbox.emit(
            session,
            org_id,
            EventType.USER_ERASED,
            {"user_id": user_id, "job_id": job_id, "report": report},
        )
    log.info("erased user %s of org %s: %s", user_pk, org_id, report["removed"])
    return report

"""Job rows: created with the data they name, claimed by a worker, finished once.

A job is the unit the queue carries (its id, nothing else) and the record a
client polls. Every transition is a guarded UPDATE so that a redelivered
message finds a finished job and does nothing.
"""

from __future__ import annotations

import base64
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, Integer, String, column, func, insert, or_, select, update, values
from sqlalchemy.orm import Session
from ulid import ULID

from pipeline.db.engine import after_commit, session_scope
from pipeline.db.models import Job
from pipeline.errors import InvalidInput, NotFound
from pipeline.metrics import JOBS_ENDED
from pipeline.reprocess import progress
from pipeline.schemas import JobCounts, JobList, JobOut
from pipeline.status import EventType, JobKind, JobStatus
from pipeline.webhooks import outbox

FINISHED = JobStatus.finished()


def new_id() -> str:
    """A ULID: unique without coordination, and sorts by creation time."""
    return str(ULID())


def create(
    session: Session,
    job_id: str,
    kind: JobKind,
    org_id: int,
    user_id: str | None,
    user_pk: int | None,
    *,
    items: int = 0,
    duplicates: int = 0,
    done: bool = False,
    progress: dict[str, Any] | None = None,
) -> None:
    """Write job `job_id` (from `new_id`) in the caller's transaction: queued, and counted
    as published now (its message goes out after the commit, or the sweeper re-sends it);
    or, with `done`, already succeeded (nothing to do: every item was a duplicate)."""
    job = Job(
        id=job_id,
        org_id=org_id,
        user_id=user_id,
        user_pk=user_pk,
        kind=kind,
        status=JobStatus.SUCCEEDED if done else JobStatus.QUEUED,
        items=items,
        duplicates=duplicates,
        timings={},
        finished_at=func.now() if done else None,
        published_at=None if done else func.now(),
        progress=progress,
    )
    session.add(job)
    if done:
        session.flush()
        announce(session, job)


@dataclass(frozen=True)
class Queued:
    """A job to write queued (`create_queued`): what `create` takes, but many at once."""

    id: str  # from `new_id`
    kind: JobKind
    org_id: int
    user_id: str | None
    user_pk: int | None
    items: int
    duplicates: int
    lane: str | None  # the broker its message goes through (`Settings.lane`)


def create_queued(session: Session, queued: list[Queued]) -> None:
    """`create` for many queued jobs in one statement (a group commit's), each counted as
    published now, like `create`'s."""
    if queued:
        session.execute(
            insert(Job).values(published_at=func.now()),
            [asdict(q) | {"timings": {}} for q in queued],
        )


def claim(
    session: Session, job_id: str, worker: str | None = None, *, step: bool = False
) -> Job | None:
    """Lock the job and mark it running by `worker` (see `pipeline.heartbeat`); None if
    it is unknown or already finished. A long job's next `step` is not a new attempt."""
    job = session.execute(
        select(Job).where(Job.id == job_id).with_for_update()
    ).scalar_one_or_none()
    if job is None or job.status in FINISHED:
        return None
    if not (step and job.status == JobStatus.RUNNING):
        job.attempts += 1
    job.status = JobStatus.RUNNING
    job.started_at = func.now()  # of this attempt: the sweeper's clock for a stuck job
    job.worker = worker
    session.flush()
    return job


def start(session: Session, job_ids: list[str], worker: str) -> None:
    """Mark locked jobs running by `worker`, each as a new attempt (`claim` for many)."""
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids))
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            started_at=func.now(),
            worker=worker,
        )
    )


def release(session: Session, job_ids: list[str], worker: str) -> list[str]:
    """Put jobs running on `worker` back in the queue, untouched but for their attempts
    (a batch that could not finish through no fault of theirs); returns those put back,
    which the caller publishes again. A finished job, or one another worker took over,
    stays as it is."""
    return list(
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.status == JobStatus.RUNNING, Job.worker == worker)
            .values(status=JobStatus.QUEUED, worker=None, published_at=func.now())
            .returning(Job.id)
        ).scalars()
    )


class Running:
    """The jobs this process runs now, each with the batch that runs it. A job's row
    names the worker that took it, but a worker runs many jobs at once: a message for
    one it is running is a no-op, while a message for one the row says it runs, and
    that it does not (its batch gave up, the row could not be put back), takes the job
    over. A batch lets go only of the jobs it still holds: one it put back may have been
    taken by another batch of this process meanwhile."""

    def __init__(self) -> None:
        self._batch_of: dict[str, object] = {}
        self._lock = threading.Lock()

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._batch_of

    def add(self, job_ids: list[str], batch: object) -> None:
        """Before the claim commits: another thread's claim waits on the rows' locks,
        then must find them here."""
        with self._lock:
            self._batch_of.update(dict.fromkeys(job_ids, batch))

    def discard(self, job_ids: list[str], batch: object) -> None:
        with self._lock:
            for job_id in job_ids:
                if self._batch_of.get(job_id) is batch:
                    del self._batch_of[job_id]


def _event(job: Job) -> tuple[EventType, dict[str, Any], int | None]:
    """The event a job's end makes: its type, its data (ids and counts, no user content),
    and its user row (none for an erasure's own job: its event outlives the user)."""
    data: dict[str, Any] = {
        "job_id": job.id,
        "kind": job.kind,
        "user_id": job.user_id,
        "status": job.status,
        "counts": {"items": job.items, "chunks": job.chunks, "duplicates": job.duplicates},
    }
    if job.status == JobStatus.FAILED:
        data["error"] = job.error
    event = EventType.JOB_SUCCEEDED if job.status == JobStatus.SUCCEEDED else EventType.JOB_FAILED
    return event, data, None if job.kind == JobKind.DELETE else job.user_pk


def announce(session: Session, job: Job) -> int:
    """The job's end as a `job.succeeded` or `job.failed` event (the outbox, in the
    transaction that ended it); returns the deliveries made."""
    return announce_all(session, [job])


def announce_all(session: Session, ended: list[Job]) -> int:
    """`announce` for the jobs one transaction ended (a batch's): one look for the
    organizations with an endpoint that wants them, and events written only for those
    (a batch of a few hundred one-event jobs had written its events one statement each,
    most of them finding no endpoint)."""
    if not ended:
        return 0
    for (kind, status), n in Counter((job.kind, job.status) for job in ended).items():
        after_commit(session, partial(JOBS_ENDED.labels(kind, status).inc, n))
    events = [(job, *_event(job)) for job in ended]
    if len(events) > 1:  # a lone end's `emit` finds its endpoints itself, in one statement
        wanted = {(job.org_id, event) for job, event, _, _ in events}
        listening = outbox.listening(session, wanted)
        events = [e for e in events if (e[0].org_id, e[1]) in listening]
    return sum(
        outbox.emit(session, job.org_id, event, data, user_pk)
        for job, event, data, user_pk in events
    )


def _finish(session: Session, job_id: str, values: dict[str, Any]) -> int:
    """End the job with `values` unless it has ended already; announce it once."""
    job = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.not_in(FINISHED))
        .values(finished_at=func.now(), **values)
        .returning(Job)
    ).scalar_one_or_none()
    return announce(session, job) if job is not None else 0


def succeed_all(session: Session, chunks: dict[str, int], timings: dict[str, float]) -> int:
    """Record the success of the jobs of one batch, each with its own chunk count and the
    batch's timings, in one statement (guarded: a job ended already stays as it is);
    returns the webhook deliveries made (`announce_all`)."""
    if not chunks:
        return 0
    counted = values(column("id", String), column("chunks", Integer), name="counted").data(
        list(chunks.items())
    )
    ended = session.execute(
        update(Job)
        .where(Job.id == counted.c.id, Job.status.not_in(FINISHED))
        .values(
            status=JobStatus.SUCCEEDED,
            chunks=counted.c.chunks,
            timings=timings,
            error=None,
            finished_at=func.now(),
        )
        .returning(Job),
        execution_options={"synchronize_session": False},
    )
    return announce_all(session, list(ended.scalars()))


def fail(session: Session, job_id: str, reason: str, timings: dict[str, Any] | None = None) -> int:
    """Record a permanent failure; the reason is what the client will read."""
    values: dict[str, Any] = {"status": JobStatus.FAILED, "error": reason[:2000]}
    if timings is not None:
        values["timings"] = timings
    return _finish(session, job_id, values)


def fail_now(engine: Engine, job_id: str, reason: str) -> None:
    """`fail` in a transaction of its own: for a worker giving up on a job (a poison
    item, retries exhausted), when the job's own transaction is gone."""
    with session_scope(engine) as session:
        fail(session, job_id, reason)


def stage_ms(start: float, *stages: tuple[str, float]) -> dict[str, float]:
    """`{stage}_ms` between consecutive `time.perf_counter()` checkpoints, and `total_ms`."""
    out, previous = {}, start
    for name, at in stages:
        out[f"{name}_ms"] = round((at - previous) * 1000, 1)
        previous = at
    out["total_ms"] = round((previous - start) * 1000, 1)
    return out


def complete(
    session: Session, job_id: str, result: dict[str, Any], timings: dict[str, float]
) -> int:
    """Record success with a report of what the job did (an erasure's counts per store)."""
    values = {"status": JobStatus.SUCCEEDED, "result": result, "timings": timings, "error": None}
    return _finish(session, job_id, values)


def kinds(session: Session, job_ids: list[str]) -> dict[str, JobKind]:
    """The kind of each job, so a re-published message goes to the task that runs it."""
    if not job_ids:
        return {}
    rows = session.execute(select(Job.id, Job.kind).where(Job.id.in_(job_ids)))
    return {row.id: JobKind(row.kind) for row in rows}


def mark_published(session: Session, job_ids: list[str]) -> None:
    session.execute(update(Job).where(Job.id.in_(job_ids)).values(published_at=func.now()))


def lost(
    session: Session, older_than_s: float, stuck_after_s: float, limit: int = 1000
) -> list[str]:
    """Jobs whose message may be gone: queued and not started `older_than_s` after they
    were published, or running for longer than any attempt may take (its worker died
    and Redis lost or still withholds the unacknowledged message)."""
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=older_than_s)
    stuck = now - timedelta(seconds=stuck_after_s)
    return list(
        session.execute(
            select(Job.id)
            .where(
                or_(
                    (Job.status == JobStatus.QUEUED)
                    & or_(Job.published_at.is_(None), Job.published_at < cutoff),
                    (Job.status == JobStatus.RUNNING)
                    & (Job.started_at < stuck)
                    & or_(Job.published_at.is_(None), Job.published_at < stuck),
                )
            )
            .order_by(Job.created_at)
            .limit(limit)
        ).scalars()
    )


def running_on(session: Session, limit: int = 1000) -> dict[str, str]:
    """Running jobs not re-published since their claim, by id, with the worker that
    claimed them: the sweeper re-publishes those whose worker is no longer alive."""
    rows = session.execute(
        select(Job.id, Job.worker)
        .where(
            Job.status == JobStatus.RUNNING,
            Job.worker.is_not(None),
            or_(Job.published_at.is_(None), Job.published_at < Job.started_at),
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    return {row.id: row.worker for row in rows}


def get(session: Session, org_id: int, job_id: str) -> JobOut:
    """A job of this organization; another organization's job is not found, not forbidden."""
    job = session.execute(
        select(Job).where(Job.id == job_id, Job.org_id == org_id)
    ).scalar_one_or_none()
    if job is None:
        raise NotFound(f"No job found with ID {job_id}")
    return view(job)


def view(job: Job) -> JobOut:
    """A job row as the wire shows it."""
    return JobOut(
        job_id=job.id,
        kind=job.kind,
        user_id=job.user_id,
        status=JobStatus(job.status),
        counts=JobCounts(items=job.items, chunks=job.chunks, duplicates=job.duplicates),
        attempts=job.attempts,
        error=job.error,
        timings=job.timings,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result=job.result,
        progress=progress.view(job.progress),
    )


_CURSOR = re.compile(r"^[0-9A-Za-z]{26}$")


def _cursor(job_id: str) -> str:
    """Opaque to the client: the last job id of a page, wrapped so it is not taken for one."""
    return base64.urlsafe_b64encode(f"jobs:{job_id}".encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    """The job id a cursor from `_cursor` names; INVALID_REQUEST for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    job_id = raw.removeprefix("jobs:")
    if not raw.startswith("jobs:") or not _CURSOR.match(job_id):
        raise InvalidInput("Invalid cursor: pass the next_cursor of a previous page")
    return job_id


def listing(
    session: Session,
    org_id: int,
    *,
    status: JobStatus | None = None,
    user_id: str | None = None,
    kind: JobKind | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> JobList:
    """The organization's jobs, newest first (ids are ULIDs: they sort by creation), one
    page of `limit` after `cursor`. Keyset paging: a page costs the same however deep,
    and a job created meanwhile never shifts a later page."""
    query = select(Job).where(Job.org_id == org_id)
    if status is not None:
        query = query.where(Job.status == status)
    if user_id is not None:
        query = query.where(Job.user_id == user_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if cursor is not None:
        query = query.where(Job.id < _after(cursor))
    found = list(session.execute(query.order_by(Job.id.desc()).limit(limit + 1)).scalars())
    page = found[:limit]
    more = len(found) > limit
    return JobList(jobs=[view(j) for j in page], next_cursor=_cursor(page[-1].id) if more else None)

"""Which ingest jobs a worker takes into one batch, so that none is taken twice.

A message names jobs (those one gateway commit accepted, or those a batch put back);
the worker takes them and, while their items stay within `ingest.batch_items`,
the oldest other queued ingest jobs too. Two rules keep each job in one batch:

- the named jobs are locked and read: one still queued is taken; one running is
  left to the batch that took it (its message is then a no-op), unless that
  batch's worker has stopped beating (`pipeline.heartbeat`), has run it for
  longer than `ingest.stuck_after_s`, or is this process and no longer runs it
  (`Runtime.running`): then the job is taken over, as the sweeper intends;
- the others, queued in this worker's lane (the broker it takes messages from:
  `Settings.lane`), are taken with `FOR UPDATE SKIP LOCKED`: a job another claim is
  locking is simply not this batch's, so claims never wait on each other.

Everything taken is marked running by this worker in the same transaction, and
registered in `Runtime.running` before that commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import heartbeat, jobs
from pipeline.db.models import Job
from pipeline.runtime import Runtime
from pipeline.status import JobKind, JobStatus


def any_to_take(runtime: Runtime, session: Session, named: list[str]) -> bool:
    """Whether a claim of `named` would take any of them: read without locks before the
    batch waits for an embedding slot, so that the message of a job another batch took
    is dropped at once, instead of waiting for a slot to find nothing to do."""
    found = session.execute(
        select(Job.id, Job.status, Job.worker, Job.started_at).where(Job.id.in_(named))
    )
    return bool(_takeable(runtime, list(found)))


class _Held(Protocol):
    """What `_takeable` reads of a job: a row, or the whole `Job`."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def worker(self) -> str | None: ...
    @property
    def started_at(self) -> datetime | None: ...


J = TypeVar("J", bound=_Held)


@dataclass(frozen=True)
class Claimed:
    taken: list[Job]  # marked running by this worker, in the order taken
    left_over: list[str]  # named jobs this batch could take but had no room for: unsent


def claim(
    runtime: Runtime, session: Session, named: list[str], batch: object, *, alone: bool = False
) -> Claimed:
    """The jobs of one batch (`batch` names it in `Runtime.running`): those of `named`
    that are this batch's to run, in order, then (unless `alone`) other queued ingest
    jobs, oldest first, while the items fit `ingest.batch_items`; a named job that does
    not fit is left queued, for the caller to send again."""
    found = session.execute(
        select(Job).where(Job.id.in_(named)).order_by(Job.id).with_for_update()
    ).scalars()
    mine = _takeable(runtime, list(found))
    order = {job_id: n for n, job_id in enumerate(named)}
    mine.sort(key=lambda job: order[job.id])
    budget = runtime.settings.ingest.batch_items
    taken = _fitting(mine, budget)
    left_over = [job.id for job in mine[len(taken) :]]
    room = budget - sum(job.items for job in taken)
    if taken and room > 0 and not alone and not left_over:
        taken += _fitting(queued(runtime, session, exclude=named, limit=room), room, first=False)
    _start(runtime, session, taken, batch)
    return Claimed(taken, left_over)


def more(runtime: Runtime, session: Session, room: int, batch: object) -> list[Job]:
    """Queued ingest jobs whose items fit in `room`, taken as `claim` takes its others:
    what a short batch gathers after its linger."""
    taken = _fitting(queued(runtime, session, exclude=[], limit=room), room, first=False)
    _start(runtime, session, taken, batch)
    return taken


def _start(runtime: Runtime, session: Session, taken: list[Job], batch: object) -> None:
    if taken:
        ids = [job.id for job in taken]
        runtime.running.add(ids, batch)
        jobs.start(session, ids, runtime.worker_id)


def queued(runtime: Runtime, session: Session, exclude: list[str], limit: int) -> list[Job]:
    """Up to `limit` queued ingest jobs of this worker's lane (`Settings.lane`; every job
    holds an item at least), oldest first, locked; those another transaction is locking
    are skipped."""
    return list(
        session.execute(
            select(Job)
            .where(
                Job.status == JobStatus.QUEUED,
                Job.kind == JobKind.INGEST,
                Job.lane == runtime.settings.lane,
                Job.id.not_in(exclude),
            )
            .order_by(Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def _fitting(candidates: list[Job], budget: int, *, first: bool = True) -> list[Job]:
    """The leading `candidates` whose items add up to `budget` at most; with `first`,
    at least one however large (a job larger than a batch runs alone)."""
    out: list[Job] = []
    used = 0
    for job in candidates:
        if used + job.items > budget and not (first and not out):
            break
        out.append(job)
        used += job.items
    return out


def _takeable(runtime: Runtime, found: list[J]) -> list[J]:
    """The named jobs this batch may run (see the module docstring)."""
    queued = [job for job in found if job.status == JobStatus.QUEUED]
    running = [job for job in found if job.status == JobStatus.RUNNING]
    if not running:
        return queued
    me = runtime.worker_id
    others = sorted({job.worker for job in running if job.worker and job.worker != me})
    living = heartbeat.alive(runtime.redis, others)
    stuck = datetime.now(UTC) - timedelta(seconds=runtime.settings.ingest.stuck_after_s)
    orphaned = [
        job
        for job in running
        if (job.id not in runtime.running if job.worker == me else job.worker not in living)
        or job.started_at is None
        or job.started_at < stuck
    ]
    return queued + orphaned

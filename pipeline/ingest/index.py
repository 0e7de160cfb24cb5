"""The worker half of ingestion: pending items → chunks → vectors → points and chunk rows.

Three steps, and no database session is held across the model or the index
except where noted:

1. claim (one short transaction): mark the job running, read its pending items
   and the active index generation (`pipeline.generations`);
2. chunk and embed with that generation's model, with no transaction open: the
   slow part, checked against the job's time limit between slices of texts;
3. write (one transaction, holding the generations' switch lock shared, then
   the user's write lock): re-check that the generation is still the active one
   (a reindex may have switched meanwhile: the job then runs again, for the new
   one), that the user is not being deleted and that each item still has the
   content that was embedded; place the points and chunk rows (`placing`), mark
   the items indexed with a new `index_seq` (what a reindex catches up on), and
   the job succeeded. The user's lock serialises this step with other jobs and
   with the erasure of the same user, so a stale job can never write after a
   newer one or after an erasure; the index write inside it is milliseconds.

A crash anywhere leaves the job queued or running with its items pending, and
the redelivered message (acks_late) or the sweeper runs it again from step 1.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pipeline import generations, jobs, placing, users
from pipeline.chunking import Piece
from pipeline.db.engine import session_scope
from pipeline.db.models import ITEM_INDEX_SEQ, Item
from pipeline.errors import Retryable, transient_is_retryable
from pipeline.generations import Generation
from pipeline.metrics import ITEMS_INDEXED
from pipeline.placing import ItemText, Owner
from pipeline.runtime import Runtime
from pipeline.status import ItemState, JobStatus

log = logging.getLogger("persona.ingest")


@dataclass(frozen=True)
class Work:
    job_id: str
    owner: Owner
    generation: Generation
    items: list[ItemText]


class Ran(StrEnum):
    """What one run of an ingest job came to."""

    SUCCEEDED = JobStatus.SUCCEEDED.value
    FAILED = JobStatus.FAILED.value
    SKIPPED = "skipped"  # finished already: a redelivered message
    BUSY = "busy"  # no embedding slot freed in time: the job is untouched, still queued


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: Ran
    chunks: int = 0
    reason: str | None = None
    deliveries: int = 0  # webhook deliveries the job's end made (`jobs.announce`)


class Dropped(Exception):
    """The job's work cannot be written (the user is going or gone, the job ran past its
    time limit): it ends failed, with this as the reason its client reads."""


def claim(runtime: Runtime, session: Session, job_id: str) -> Work | None:
    """Step 1: the job marked running by this worker, its pending items and the active
    generation; None if the job is finished."""
    job = jobs.claim(session, job_id, runtime.worker_id)
    if job is None:
        return None
    assert job.user_pk is not None, "an ingest job names its user"
    rows = session.execute(
        select(*placing.ITEM_COLUMNS, Item.content)
        .where(Item.job_id == job_id, Item.state == ItemState.PENDING)
        .order_by(Item.id)
    )
    items = [ItemText.of(r, r.content) for r in rows]
    return Work(job_id, Owner(job.org_id, job.user_pk), runtime.active(session), items)


def _deadline_check(deadline: float) -> placing.Between:
    def check(done: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise Dropped(
                f"the job ran past its time limit after embedding {done} of {total} "
                "texts (PERSONA_INGEST_JOB_TIME_LIMIT_S); send its items in smaller requests"
            )

    return check


def _still_current(session: Session, work: Work) -> list[ItemText]:
    """The items of `work` whose stored content is still the one that was embedded."""
    hashes = {i.id: i.content_hash for i in work.items}
    current = {
        row.id
        for row in session.execute(
            select(Item.id, Item.content_hash).where(
                Item.id.in_(hashes), Item.job_id == work.job_id, Item.state == ItemState.PENDING
            )
        )
        if hashes[row.id] == row.content_hash
    }
    return [i for i in work.items if i.id in current]


def write(
    session: Session,
    runtime: Runtime,
    work: Work,
    chunked: dict[int, list[Piece]],
    vectors: dict[int, list[list[float]]],
) -> int:
    """Step 3 of the module docstring; returns the number of chunks written."""
    generations.hold_shared(session)
    if runtime.active(session).id != work.generation.id:
        raise Retryable("the index generation changed while the job embedded; it runs again")
    if not users.hold(session, work.owner.user_pk):
        raise Dropped("the user is being deleted or is gone; nothing indexed")
    items = _still_current(session, work)
    generation = work.generation
    written = placing.place(
        session, runtime.target(generation), work.owner, items, chunked, vectors
    )
    if items:
        session.execute(
            update(Item)
            .where(Item.id.in_([i.id for i in items]))
            .values(
                state=ItemState.INDEXED,
                index_seq=ITEM_INDEX_SEQ.next_value(),
                updated_at=func.now(),
            )
        )
    return written


def run_ingest_job(runtime: Runtime, job_id: str, slot_wait_s: float | None = None) -> Outcome:
    """Index the pending items of `job_id`; safe to run any number of times.

    The job holds one of the runtime's embedding slots from its claim to its end; with
    `slot_wait_s`, it gives up with status "busy", the job untouched, when no slot freed
    in that time. Raises `Retryable` for transient failures; anything else is permanent.
    """
    with runtime.slots.foreground(slot_wait_s) as held:
        if not held:
            return Outcome(job_id, Ran.BUSY)
        with transient_is_retryable():
            return _run(runtime, job_id)


def _run(runtime: Runtime, job_id: str) -> Outcome:
    t0 = time.perf_counter()
    deadline = time.monotonic() + runtime.settings.ingest.job_time_limit_s
    with session_scope(runtime.engine) as session:
        work = claim(runtime, session, job_id)
    if work is None:
        return Outcome(job_id, Ran.SKIPPED)
    t1 = time.perf_counter()
    model = work.generation.model
    pieces = runtime.chunker(model).split_many([i.source for i in work.items])
    chunked = {i.id: p for i, p in zip(work.items, pieces, strict=True)}
    t2 = time.perf_counter()
    try:
        vectors = placing.embed_items(
            runtime.embedder(model), work.items, chunked, _deadline_check(deadline)
        )
        t3 = time.perf_counter()
        with session_scope(runtime.engine) as session:
            written = write(session, runtime, work, chunked, vectors)
            t4 = time.perf_counter()
            timings = jobs.stage_ms(t0, ("claim", t1), ("chunk", t2), ("embed", t3), ("write", t4))
            deliveries = jobs.succeed(session, job_id, chunks=written, timings=timings)
    except Dropped as dropped:
        jobs.fail_now(runtime.engine, job_id, str(dropped))
        return Outcome(job_id, Ran.FAILED, reason=str(dropped))
    ITEMS_INDEXED.labels("ingest").inc(len(work.items))
    log.info(
        "job %s: %d items, %d chunks in %.0f ms",
        job_id,
        len(work.items),
        written,
        timings["total_ms"],
    )
    return Outcome(job_id, Ran.SUCCEEDED, chunks=written, deliveries=deliveries)

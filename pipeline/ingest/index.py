"""The worker half of ingestion: queued jobs → chunks → vectors → points and chunk rows.

Jobs run in batches. A stream of one-event requests is a stream of one-item jobs,
and run one at a time each would pay the whole fixed cost alone (a claim, a model
call on one text, a write transaction, an index flush). So a worker sent one job
takes other queued ingest jobs with it (`ingest.claims`), and runs them as one:

1. claim (one short transaction): the batch's jobs marked running by this
   worker, their pending items and the active index generation (`generations`).
   A batch short of `ingest.batch_items` waits `ingest.batch_linger_s` once and
   takes what arrived meanwhile: what a lone job may be delayed by;
2. chunk and embed every item of the batch together with that generation's
   model, with no transaction open (`placing.embed`: each distinct text once,
   shortest first), checked against the time limit between slices of texts, on
   the runtime's live threads (`Runtime.live`: below the gateway and queries in
   CPU priority, above reprocessing);
3. write (one transaction, holding the generations' switch lock shared, then
   each user's write lock, in user order): re-check that the generation is
   still the active one (a reindex may have switched meanwhile: the batch then
   runs again, for the new one); per user, that the user is not being deleted
   (else that user's jobs fail, and the others go on) and that each item still
   has the content that was embedded; place the points and chunk rows of all
   (`placing`: one index upsert and flush), mark the items indexed with a new
   `index_seq` (what a reindex catches up on), and end every job with its own
   counts and timings. The users' locks serialise this step with other batches
   and with erasure, so a stale batch never writes after a newer one or after
   an erasure.

Every job ends exactly once (`jobs.succeed_all` and `jobs.fail` are guarded). A batch
that cannot finish through no fault of its jobs (a store not answering, the
generation switched) puts them back in the queue to be sent again; one that fails
in a way that could be one job's own (an unreadable item, the time limit) with
several jobs in it runs them again one by one, so that only that job fails. A crash
anywhere leaves the jobs running with their items pending, and the sweeper, once
the worker stops beating, sends them again (`ingest.claims` lets them be taken over).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pipeline import context, generations, jobs, placing, users
from pipeline.chunking import Piece
from pipeline.db.engine import session_scope
from pipeline.db.models import ITEM_INDEX_SEQ, Item, Job
from pipeline.errors import Retryable, transient_is_retryable
from pipeline.generations import Generation
from pipeline.ingest import claims
from pipeline.metrics import ITEMS_INDEXED
from pipeline.placing import ItemText, Owner
from pipeline.runtime import Runtime
from pipeline.status import ItemState, JobStatus

log = logging.getLogger("persona.ingest")

GONE = "the user is being deleted or is gone; nothing indexed"


@dataclass(frozen=True)
class JobWork:
    """One job of a batch: whose it is, and its pending items."""

    job_id: str
    owner: Owner
    items: list[ItemText]


@dataclass(frozen=True)
class Batch:
    generation: Generation
    jobs: list[JobWork]

    @property
    def job_ids(self) -> list[str]:
        return [job.job_id for job in self.jobs]

    @property
    def items(self) -> list[ItemText]:
        return [item for job in self.jobs for item in job.items]


class Ran(StrEnum):
    """What one run of an ingest job came to."""

    SUCCEEDED = JobStatus.SUCCEEDED.value
    FAILED = JobStatus.FAILED.value
    SKIPPED = "skipped"  # finished already, or another batch's: a redelivered message
    BUSY = "busy"  # no embedding slot freed in time: the job is untouched, still queued


@dataclass(frozen=True)
class Outcome:
    """What became of one job."""

    job_id: str
    status: Ran
    chunks: int = 0
    reason: str | None = None


@dataclass
class Report:
    """What a run of `run_ingest_jobs` did, for the task that ran it to follow up."""

    busy: bool = False  # no embedding slot freed in time: nothing was touched
    ended: dict[str, Outcome] = field(default_factory=dict)  # each job this run ended
    users: set[int] = field(default_factory=set)  # users whose items were written
    deliveries: int = 0  # webhook deliveries the jobs' ends made (`jobs.announce`)
    resend: list[str] = field(default_factory=list)  # jobs to send again, queued
    retry: Retryable | None = None  # why to send `resend` again later, not now
    put_back: list[str] = field(default_factory=list)  # jobs of this run put back: retried

    def merge(self, other: Report) -> None:
        self.ended.update(other.ended)
        self.users |= other.users
        self.deliveries += other.deliveries
        self.resend += other.resend
        self.retry = self.retry or other.retry
        self.put_back += other.put_back


@dataclass(frozen=True)
class Written:
    """What a batch's write step wrote: chunks per job (of the jobs whose user may still
    be written), and the items made searchable."""

    chunks: dict[str, int]
    items: int


class Dropped(Exception):
    """The batch's work cannot be written (it ran past its time limit): its job ends
    failed, with this as the reason its client reads."""


def run_ingest_jobs(
    runtime: Runtime, named: list[str], slot_wait_s: float | None = None, *, alone: bool = False
) -> Report:
    """Index the pending items of the `named` jobs, and of the queued jobs taken with
    them (none when `alone`); safe to run any number of times.

    The batch holds one of the runtime's embedding slots from its claim to its end;
    with `slot_wait_s`, it gives up (`Report.busy`), the jobs untouched, when no slot
    freed in that time. Never raises for a job's failure: the report says what ended
    and what is to be sent again.
    """
    try:
        with transient_is_retryable(), session_scope(runtime.engine) as session:
            if not claims.any_to_take(runtime, session, named):
                return Report()
    except Retryable as exc:
        return Report(resend=list(named), retry=exc)
    with runtime.slots.foreground(slot_wait_s) as held:
        if not held:
            return Report(busy=True)
        return _run_batch(runtime, named, alone)


def run_ingest_job(runtime: Runtime, job_id: str) -> Outcome:
    """`run_ingest_jobs` for one job alone, as a caller outside the queue runs it."""
    report = run_ingest_jobs(runtime, [job_id], alone=True)
    if report.retry is not None:
        raise report.retry
    return report.ended.get(job_id, Outcome(job_id, Ran.SKIPPED))


def _run_batch(runtime: Runtime, named: list[str], alone: bool) -> Report:
    t0 = time.perf_counter()
    report = Report()
    held: list[str] = []  # the jobs this run took, as soon as each claim is made
    token = object()  # this batch, in `Runtime.running`
    try:
        with transient_is_retryable():
            batch = _claim(runtime, named, alone, held, token, report)
            if batch is not None:
                first = batch.jobs[0]  # the batch's log lines name its first job's ids
                context.bind(
                    job_id=first.job_id, org=first.owner.org_id, user_pk=first.owner.user_pk
                )
                _index(runtime, batch, t0, report)
    except Retryable as exc:
        log.warning("a batch of %d jobs is put back: %s", len(held), exc.message)
        report.put_back = _put_back(runtime, held)
        # a named job that another batch runs, or that ended, is a no-op when sent again
        report.resend = list(dict.fromkeys([*report.put_back, *named, *report.resend]))
        report.retry = exc
    except Exception as exc:
        if not held:
            raise
        if len(held) == 1:
            _fail_alone(runtime, held[0], exc, report)
        else:  # maybe one job's fault: run each again alone, so only that one fails
            # the error's type only: a driver's text may quote a value, and values are content
            log.warning(
                "a batch of %d jobs failed (%s); each runs alone", len(held), type(exc).__name__
            )
            for job_id in _put_back(runtime, held):
                report.merge(_run_batch(runtime, [job_id], alone=True))
    finally:
        runtime.running.discard(held, token)
    return report


def _claim(
    runtime: Runtime,
    named: list[str],
    alone: bool,
    held: list[str],
    token: object,
    report: Report,
) -> Batch | None:
    """Step 1: the batch, or None when no job is this batch's to run. The jobs taken
    go into `held` before each claim commits; the named jobs left over for want of room
    into `report.resend`."""
    with session_scope(runtime.engine) as session:
        claimed = claims.claim(runtime, session, named, token, alone=alone)
        held += [job.id for job in claimed.taken]
        generation = runtime.active(session)
    taken = claimed.taken
    if not taken:
        return None
    report.resend += claimed.left_over
    room = runtime.settings.ingest.batch_items - sum(job.items for job in taken)
    linger = runtime.settings.ingest.batch_linger_s
    if room > 0 and linger > 0 and not alone and not claimed.left_over:
        time.sleep(linger)
        with session_scope(runtime.engine) as session:
            extra = claims.more(runtime, session, room, token)
            held += [job.id for job in extra]
        taken += extra
    with session_scope(runtime.engine) as session:
        return Batch(generation, _read_items(session, taken))


def _read_items(session: Session, taken: list[Job]) -> list[JobWork]:
    """The pending items of each job taken, in the order taken."""
    ids = [job.id for job in taken]
    by_job: dict[str, list[ItemText]] = defaultdict(list)
    rows = session.execute(
        select(*placing.ITEM_COLUMNS, Item.content, Item.job_id)
        .where(Item.job_id.in_(ids), Item.state == ItemState.PENDING)
        .order_by(Item.id)
    )
    for row in rows:
        by_job[row.job_id].append(ItemText.of(row, row.content))
    out = []
    for job in taken:
        assert job.user_pk is not None, "an ingest job names its user"
        out.append(JobWork(job.id, Owner(job.org_id, job.user_pk), by_job[job.id]))
    return out


def _deadline_check(deadline: float) -> placing.Between:
    def check(done: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise Dropped(
                f"the job ran past its time limit after embedding {done} of {total} "
                "texts (PERSONA_INGEST_JOB_TIME_LIMIT_S); send its items in smaller requests"
            )

    return check


def _index(runtime: Runtime, batch: Batch, t0: float, report: Report) -> None:
    """Steps 2 and 3 for a claimed batch; its jobs' ends go into `report`."""
    deadline = time.monotonic() + runtime.settings.ingest.job_time_limit_s
    t1 = time.perf_counter()
    model = batch.generation.model
    items = batch.items
    pieces = runtime.chunker(model).split_many([i.source for i in items])
    chunked = {i.id: p for i, p in zip(items, pieces, strict=True)}
    t2 = time.perf_counter()
    try:
        vectors = runtime.live.submit(  # on the live threads' lower CPU priority
            placing.embed_items, runtime.embedder(model), items, chunked, _deadline_check(deadline)
        ).result()
    except Dropped as dropped:
        if len(batch.jobs) > 1:
            raise  # maybe one job's size: each runs alone
        job_id = batch.jobs[0].job_id
        jobs.fail_now(runtime.engine, job_id, str(dropped))
        report.ended[job_id] = Outcome(job_id, Ran.FAILED, reason=str(dropped))
        return
    t3 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        written = write(session, runtime, batch, chunked, vectors)
        t4 = time.perf_counter()
        timings = jobs.stage_ms(t0, ("claim", t1), ("chunk", t2), ("embed", t3), ("write", t4))
        timings["batch_jobs"] = len(batch.jobs)
        timings["batch_items"] = len(items)
        report.deliveries += jobs.succeed_all(session, written.chunks, timings)
        for work in batch.jobs:
            if work.job_id in written.chunks:
                chunks = written.chunks[work.job_id]
                report.ended[work.job_id] = Outcome(work.job_id, Ran.SUCCEEDED, chunks=chunks)
                report.users.add(work.owner.user_pk)
            else:
                report.deliveries += jobs.fail(session, work.job_id, GONE, timings)
                report.ended[work.job_id] = Outcome(work.job_id, Ran.FAILED, reason=GONE)
    ITEMS_INDEXED.labels("ingest").inc(written.items)
    log.info(
        "batch of %d jobs: %d items, %d chunks in %.0f ms",
        len(batch.jobs),
        len(items),
        sum(written.chunks.values()),
        timings["total_ms"],
    )


def _still_current(session: Session, works: list[JobWork]) -> dict[str, list[ItemText]]:
    """The items of each job whose stored content is still the one that was embedded."""
    expected = {i.id: (w.job_id, i.content_hash) for w in works for i in w.items}
    current = {
        row.id
        for row in session.execute(
            select(Item.id, Item.job_id, Item.content_hash).where(
                Item.id.in_(expected), Item.state == ItemState.PENDING
            )
        )
        if expected[row.id] == (row.job_id, row.content_hash)
    }
    return {w.job_id: [i for i in w.items if i.id in current] for w in works}


def write(
    session: Session,
    runtime: Runtime,
    batch: Batch,
    chunked: dict[int, list[Piece]],
    vectors: dict[int, list[list[float]]],
) -> Written:
    """Step 3 of the module docstring."""
    generations.hold_shared(session)
    if runtime.active(session).id != batch.generation.id:
        raise Retryable("the index generation changed while the batch embedded; it runs again")
    by_user: dict[int, list[JobWork]] = defaultdict(list)
    for work in batch.jobs:
        by_user[work.owner.user_pk].append(work)
    parts: list[tuple[Owner, list[ItemText]]] = []
    chunks: dict[str, int] = {}
    for user_pk in sorted(by_user):  # one order for every batch: no deadlock between them
        works = by_user[user_pk]
        if not users.hold(session, user_pk):
            continue
        current = _still_current(session, works)
        parts.append((works[0].owner, [i for w in works for i in current[w.job_id]]))
        chunks.update({w.job_id: sum(len(chunked[i.id]) for i in current[w.job_id]) for w in works})
    placing.place_all(session, runtime.target(batch.generation), parts, chunked, vectors)
    indexed = [i.id for _, items in parts for i in items]
    if indexed:
        session.execute(
            update(Item)
            .where(Item.id.in_(indexed))
            .values(
                state=ItemState.INDEXED,
                index_seq=ITEM_INDEX_SEQ.next_value(),
                updated_at=func.now(),
            )
        )
    return Written(chunks, len(indexed))


def _put_back(runtime: Runtime, job_ids: list[str]) -> list[str]:
    """The unfinished of `job_ids` back in the queue; those put back, to send again. If
    even that fails, they stay running on this worker, and the message that retries
    them takes them over (`ingest.claims`)."""
    if not job_ids:
        return []
    try:
        with transient_is_retryable(), session_scope(runtime.engine) as session:
            return jobs.release(session, job_ids, runtime.worker_id)
    except Retryable:
        return list(job_ids)


def _fail_alone(runtime: Runtime, job_id: str, exc: Exception, report: Report) -> None:
    """A job that failed alone in a way no retry mends: its client reads what happened,
    not how a library phrased it; the driver's text stays in the log (without statement
    parameters: they hold user content)."""
    log.error("job %s failed", job_id, exc_info=exc)
    reason = f"internal error ({type(exc).__name__})"
    jobs.fail_now(runtime.engine, job_id, reason)
    report.ended[job_id] = Outcome(job_id, Ran.FAILED, reason=reason)

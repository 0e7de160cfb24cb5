"""The worker half of ingestion: pending items → chunks → vectors → points and chunk rows.

Three steps, and no database session is held across the model or the index
except where noted:

1. claim (one short transaction): mark the job running, read its pending items;
2. chunk and embed, with no transaction open: the slow part, checked against
   the job's time limit between slices of texts;
3. write (one transaction, under the user's write lock): re-check that the
   user is not being deleted and that each item still has the content that was
   embedded, upsert the points (deterministic ids, so a re-run overwrites),
   remove points of ordinals a shorter new version no longer has, replace the
   chunk rows, mark items indexed and the job succeeded. The lock serialises
   this step with other jobs and with the erasure of the same user, so a stale
   job can never write after a newer one or after an erasure; the index write
   inside it is milliseconds.

A crash anywhere leaves the job queued or running with its items pending, and
the redelivered message (acks_late) or the sweeper runs it again from step 1.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.chunking import Piece, Source, header
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item
from pipeline.errors import transient_is_retryable
from pipeline.runtime import Runtime
from pipeline.status import ItemState, JobStatus
from pipeline.vectors import Point, chunk_point_id, tenant_key

log = logging.getLogger("persona.ingest")

EMBED_SLICE = 256
"""Texts embedded between two looks at the job's time limit (about a second of work)."""


@dataclass(frozen=True)
class PendingItem:
    id: int
    kind: str
    external_id: str
    content_hash: str
    source: Source


@dataclass(frozen=True)
class Work:
    job_id: str
    org_id: int
    user_pk: int
    items: list[PendingItem]

    def point_id(self, item: PendingItem, ordinal: int) -> str:
        return chunk_point_id(self.org_id, self.user_pk, item.kind, item.external_id, ordinal)


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


def claim(session: Session, job_id: str, worker: str | None = None) -> Work | None:
    """Step 1: the job marked running (by `worker`) and its pending items; None if it is
    finished."""
    job = jobs.claim(session, job_id, worker)
    if job is None:
        return None
    rows = session.execute(
        select(
            Item.id,
            Item.kind,
            Item.external_id,
            Item.content_hash,
            Item.source,
            Item.type,
            Item.title,
            Item.ts,
            Item.content,
        )
        .where(Item.job_id == job_id, Item.state == ItemState.PENDING)
        .order_by(Item.id)
    )
    items = [
        PendingItem(
            r.id,
            r.kind,
            r.external_id,
            r.content_hash,
            Source(r.kind, r.source, r.type, r.title, r.ts, r.content),
        )
        for r in rows
    ]
    return Work(job_id, job.org_id, job.user_pk, items)


def embed_pieces(runtime: Runtime, pieces: list[Piece], deadline: float) -> list[list[float]]:
    """Step 2: vectors for `pieces`, each distinct text embedded once, shortest first so
    that a batch pads to similar lengths (padding is most of the cost of mixed batches).
    The caller holds one of the runtime's embedding slots. Raises `Dropped` once
    `deadline` (a `time.monotonic()`) has passed."""
    unique = sorted({p.embed_text: p.token_count for p in pieces}.items(), key=lambda kv: kv[1])
    texts = [t for t, _ in unique]
    by_text: dict[str, list[float]] = {}
    for start in range(0, len(texts), EMBED_SLICE):
        if time.monotonic() > deadline:
            raise Dropped(
                f"the job ran past its time limit after embedding {start} of {len(texts)} "
                "texts (PERSONA_INGEST_JOB_TIME_LIMIT_S); send its items in smaller requests"
            )
        batch = texts[start : start + EMBED_SLICE]
        by_text.update(zip(batch, runtime.embedder.embed(batch), strict=True))
    return [by_text[p.embed_text] for p in pieces]


def payload(work: Work, item: PendingItem, piece: Piece) -> dict[str, object]:
    """What the index keeps of a chunk: the filters' fields, and all that a search shows
    (its words, header and time), so that a search reads no row to answer."""
    ts = item.source.ts if isinstance(item.source.ts, datetime) else None
    return {
        "tenant": tenant_key(work.org_id, work.user_pk),
        "org": work.org_id,
        "item_id": item.id,
        "kind": item.kind,
        "external_id": item.external_id,
        "ordinal": piece.ordinal,
        "source": item.source.source,
        "type": item.source.type,
        "ts": int(ts.timestamp()) if ts else None,
        "at": ts.astimezone(UTC).isoformat() if ts else None,
        "text": piece.text,
        "context": header(item.source),
    }


def _still_current(session: Session, work: Work) -> list[PendingItem]:
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
    if not users.hold(session, work.user_pk):
        raise Dropped("the user is being deleted or is gone; nothing indexed")
    items = _still_current(session, work)
    placed = [
        (i, piece, vector, work.point_id(i, piece.ordinal))
        for i in items
        for piece, vector in zip(chunked[i.id], vectors[i.id], strict=True)
    ]
    new_counts = {i.id: len(chunked[i.id]) for i in items}
    by_id = {i.id: i for i in items}
    stale = [
        work.point_id(by_id[r.item_id], r.ordinal)
        for r in session.execute(
            select(Chunk.item_id, Chunk.ordinal).where(Chunk.item_id.in_(list(new_counts)))
        )
        if r.ordinal >= new_counts[r.item_id]
    ]
    runtime.index.upsert([Point(pid, vector, payload(work, i, p)) for i, p, vector, pid in placed])
    if stale:
        runtime.index.delete(stale)
    runtime.index.flush()  # durable before the items are marked indexed
    if items:
        ids = [i.id for i in items]
        session.execute(delete(Chunk).where(Chunk.item_id.in_(ids)))
        rows = [
            {
                "item_id": i.id,
                "user_pk": work.user_pk,
                "ordinal": p.ordinal,
                "text": p.text,
                "context": header(i.source),
                "token_count": p.token_count,
                "model": runtime.embedder.model.hub_id,
                "point_id": uuid.UUID(pid),
            }
            for i, p, _, pid in placed
        ]
        session.execute(insert(Chunk), rows)  # executemany: batched by the driver
        session.execute(
            update(Item)
            .where(Item.id.in_(ids))
            .values(state=ItemState.INDEXED, updated_at=func.now())
        )
    return len(placed)


def run_ingest_job(runtime: Runtime, job_id: str, slot_wait_s: float | None = None) -> Outcome:
    """Index the pending items of `job_id`; safe to run any number of times.

    The job holds one of the runtime's embedding slots from its claim to its end; with
    `slot_wait_s`, it gives up with status "busy", the job untouched, when no slot freed
    in that time. Raises `Retryable` for transient failures; anything else is permanent.
    """
    with runtime.embedding_slot(slot_wait_s) as held:
        if not held:
            return Outcome(job_id, Ran.BUSY)
        with transient_is_retryable():
            return _run(runtime, job_id)


def _run(runtime: Runtime, job_id: str) -> Outcome:
    t0 = time.perf_counter()
    deadline = time.monotonic() + runtime.settings.ingest.job_time_limit_s
    with session_scope(runtime.engine) as session:
        work = claim(session, job_id, runtime.worker_id)
    if work is None:
        return Outcome(job_id, Ran.SKIPPED)
    t1 = time.perf_counter()
    pieces = runtime.chunker.split_many([i.source for i in work.items])
    chunked = {i.id: p for i, p in zip(work.items, pieces, strict=True)}
    t2 = time.perf_counter()
    try:
        flat = embed_pieces(runtime, [p for i in work.items for p in chunked[i.id]], deadline)
        vectors: dict[int, list[list[float]]] = {}
        cursor = 0
        for item in work.items:
            n = len(chunked[item.id])
            vectors[item.id] = flat[cursor : cursor + n]
            cursor += n
        t3 = time.perf_counter()
        with session_scope(runtime.engine) as session:
            written = write(session, runtime, work, chunked, vectors)
            t4 = time.perf_counter()
            timings = jobs.stage_ms(t0, ("claim", t1), ("chunk", t2), ("embed", t3), ("write", t4))
            deliveries = jobs.succeed(session, job_id, chunks=written, timings=timings)
    except Dropped as dropped:
        jobs.fail_now(runtime.engine, job_id, str(dropped))
        return Outcome(job_id, Ran.FAILED, reason=str(dropped))
    log.info(
        "job %s: %d items, %d chunks in %.0f ms",
        job_id,
        len(work.items),
        written,
        timings["total_ms"],
    )
    return Outcome(job_id, Ran.SUCCEEDED, chunks=written, deliveries=deliveries)

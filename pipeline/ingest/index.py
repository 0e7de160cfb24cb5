"""The ingest job: pending items → chunks → vectors → Qdrant and Postgres, exactly once.

Three steps, and no database session is held across the model or the index
except where noted:

1. claim (one short transaction): mark the job running, read its pending items;
2. chunk and embed, with no transaction open: the slow part;
3. write (one transaction, under the user's advisory lock): re-check that the
   user is not being deleted and that each item still has the content that was
   embedded, upsert the points (deterministic ids, so a re-run overwrites),
   remove points of ordinals a shorter new version no longer has, replace the
   chunk rows, mark items indexed and the job succeeded. The lock serialises
   this step with other jobs and with deletion for the same user, so a stale
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

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from pipeline import jobs
from pipeline.chunking import Piece, Source, header
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item, User
from pipeline.embedding import MODEL_NAME
from pipeline.errors import Retryable
from pipeline.runtime import Runtime
from pipeline.vectors import Point

log = logging.getLogger("persona.indexing")
POINT_NAMESPACE = uuid.UUID("6f1c1f3e-5b7a-4f0e-9a51-1d2b7c9e0a42")


def point_id(org_id: int, user_pk: int, kind: str, external_id: str, ordinal: int) -> str:
    """The same chunk always gets the same point id, so writing it twice leaves one copy."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{org_id}/{user_pk}/{kind}/{external_id}/{ordinal}"))


def tenant_key(org_id: int, user_pk: int) -> str:
    return f"{org_id}:{user_pk}"


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


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: str  # succeeded | failed | skipped | busy (no embedding slot: still queued)
    chunks: int = 0
    reason: str | None = None


def claim(session: Session, job_id: str) -> Work | None:
    job = jobs.claim(session, job_id)
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
        .where(Item.job_id == job_id, Item.state == "pending")
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


def embed_pieces(runtime: Runtime, pieces: list[Piece]) -> list[list[float]]:
    """Vectors for `pieces`, each distinct text embedded once, shortest first so that a
    batch pads to similar lengths (padding is most of the cost of mixed batches)."""
    unique = sorted({p.embed_text: p.token_count for p in pieces}.items(), key=lambda kv: kv[1])
    texts = [t for t, _ in unique]
    vectors = runtime.embed(texts)
    by_text = dict(zip(texts, vectors, strict=True))
    return [by_text[p.embed_text] for p in pieces]


USER_LOCK_SPACE = 1  # the two-int advisory lock space; the one-bigint space is separate


def lock_user(session: Session, user_pk: int) -> None:
    """Serialise this transaction with every other write to the user's index entries
    (other jobs, an erasure) until it ends."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"),
        {"space": USER_LOCK_SPACE, "key": user_pk % 2**31},
    )


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


def write(
    session: Session,
    runtime: Runtime,
    work: Work,
    chunked: dict[int, list[Piece]],
    vectors: dict[int, list[list[float]]],
) -> int:
    """Step 3 of the module docstring; returns the number of chunks written."""
    lock_user(session, work.user_pk)
    status = session.execute(select(User.status).where(User.id == work.user_pk)).scalar()
    if status != "active":
        raise UserGone(f"user is {'being deleted' if status else 'deleted'}; nothing indexed")
    hashes = {i.id: i.content_hash for i in work.items}
    current = {
        row.id
        for row in session.execute(
            select(Item.id, Item.content_hash).where(
                Item.id.in_(hashes), Item.job_id == work.job_id, Item.state == "pending"
            )
        )
        if hashes[row.id] == row.content_hash
    }
    items = [i for i in work.items if i.id in current]
    placed = [
        (
            i,
            piece,
            vector,
            point_id(work.org_id, work.user_pk, i.kind, i.external_id, piece.ordinal),
        )
        for i in items
        for piece, vector in zip(chunked[i.id], vectors[i.id], strict=True)
    ]
    new_counts = {i.id: len(chunked[i.id]) for i in items}
    by_id = {i.id: i for i in items}
    stale = [
        point_id(
            work.org_id,
            work.user_pk,
            by_id[r.item_id].kind,
            by_id[r.item_id].external_id,
            r.ordinal,
        )
        for r in session.execute(
            select(Chunk.item_id, Chunk.ordinal).where(Chunk.item_id.in_(list(new_counts)))
        )
        if r.ordinal >= new_counts[r.item_id]
    ]
    runtime.index.upsert([Point(pid, vector, payload(work, i, p)) for i, p, vector, pid in placed])
    if stale:
        runtime.index.delete(stale)
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
                "model": MODEL_NAME,
                "point_id": uuid.UUID(pid),
            }
            for i, p, _, pid in placed
        ]
        session.execute(insert(Chunk), rows)  # executemany: batched by the driver
        session.execute(
            update(Item).where(Item.id.in_(ids)).values(state="indexed", updated_at=func.now())
        )
    return len(placed)


class UserGone(Exception):
    """The user was deleted or is being deleted: the job drops its work."""


# Failures that a later attempt can outlive: a server restarting, a connection cut.
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


def run_ingest_job(runtime: Runtime, job_id: str, slot_wait_s: float | None = None) -> Outcome:
    """Index the pending items of `job_id`; safe to run any number of times.

    The job holds one of the runtime's embedding slots from its claim to its end; with
    `slot_wait_s`, it gives up with status "busy", the job untouched, when no slot freed
    in that time. Raises `Retryable` for transient failures; anything else is permanent.
    """
    with runtime.embedding_slot(slot_wait_s) as held:
        if not held:
            return Outcome(job_id, "busy")
        try:
            return _run(runtime, job_id)
        except TRANSIENT as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from exc


def _run(runtime: Runtime, job_id: str) -> Outcome:
    t0 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        work = claim(session, job_id)
    if work is None:
        return Outcome(job_id, "skipped")
    t1 = time.perf_counter()
    pieces = runtime.chunker.split_many([i.source for i in work.items])
    chunked = {i.id: p for i, p in zip(work.items, pieces, strict=True)}
    t2 = time.perf_counter()
    flat = [p for i in work.items for p in chunked[i.id]]
    flat_vectors = embed_pieces(runtime, flat)
    vectors: dict[int, list[list[float]]] = {}
    cursor = 0
    for item in work.items:
        n = len(chunked[item.id])
        vectors[item.id] = flat_vectors[cursor : cursor + n]
        cursor += n
    t3 = time.perf_counter()
    try:
        with session_scope(runtime.engine) as session:
            written = write(session, runtime, work, chunked, vectors)
            t4 = time.perf_counter()
            timings = jobs.stage_ms(t0, ("claim", t1), ("chunk", t2), ("embed", t3), ("write", t4))
            jobs.succeed(session, job_id, chunks=written, timings=timings)
    except UserGone as gone:
        with session_scope(runtime.engine) as session:
            jobs.fail(session, job_id, str(gone))
        return Outcome(job_id, "failed", reason=str(gone))
    log.info(
        "job %s: %d items, %d chunks in %.0f ms",
        job_id,
        len(work.items),
        written,
        timings["total_ms"],
    )
    return Outcome(job_id, "succeeded", chunks=written)

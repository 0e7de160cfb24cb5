"""Reindex: a new generation built from the items and switched in, or users re-embedded in
place; and retired generations dropped.

A new generation (a model switch, new chunking, or a rebuild of a lost index), in
phases, each resumable at its checkpoint (`steps`):

1. build: every indexed item, page by page in id order, into the new generation's
   collection and chunk rows. Before the first page the reindex notes how far live
   indexing has got (`seq`, the largest `index_seq` committed: `snapshot` waits,
   under the switch lock, for every live write in progress to commit). Reads and
   live writes keep using the active generation meanwhile.
2. catch-up: the items indexed live since `seq` (new ones, and new versions of old
   ones), in passes, each up to a new snapshot, until fewer than
   `reindex.catch_up_below` are left;
3. switch: in one transaction holding the switch lock exclusively (live writes
   wait), the last of them are placed, the new generation becomes active and the
   old one retired. A live write that embedded for the old generation and waited
   finds the switch done and runs again, for the new one. So nothing accepted
   during a reindex is missing after it.

In place (one user, or one organization): the scope's items re-embedded into the
active generation under each user's lock, then each user `verify`-ed, which removes
the points of chunks no longer cut (orphans).

An erasure during a reindex deletes the user's points from every generation not
dropped (`erasure.run`), and a page skips a user whose erasure has begun: nothing of
the user is left in either generation.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.orm import Session

from pipeline import generations, jobs
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item
from pipeline.errors import Conflict, Retryable
from pipeline.generations import Generation
from pipeline.reprocess import pages, steps, verify
from pipeline.reprocess.progress import Progress, save
from pipeline.runtime import Runtime
from pipeline.status import GenerationState, ItemState

log = logging.getLogger("persona.reindex")

ACTIVE_ALIAS = "chunks_active"
"""On a Qdrant server, the alias that names the active generation's collection."""
DROP_BATCH = 10_000  # chunk rows of a dropped generation deleted per statement


class Phase(StrEnum):
    QUEUED = "queued"
    BUILD = "build"
    CATCH_UP = "catch-up"
    IN_PLACE = "in-place"
    REPAIR = "repair"
    DONE = "done"


def run_reindex_step(runtime: Runtime, job_id: str) -> steps.Step:
    return steps.run(runtime, job_id, _advance)


def _advance(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool:
    try:
        while time.monotonic() < deadline:
            if p.phase == Phase.QUEUED:
                _start(runtime, job_id, p)
            elif p.phase in (Phase.BUILD, Phase.IN_PLACE):
                moved = _page_by_id(runtime, job_id, p, deadline)
                if moved is None:
                    return False  # no slot before the deadline: the next step goes on
                if not moved:
                    _next_phase(runtime, job_id, p)
            elif p.phase == Phase.CATCH_UP:
                if _catch_up(runtime, job_id, p, deadline):
                    return True
            elif p.phase == Phase.REPAIR:
                if _repair(runtime, job_id, p, deadline):
                    return True
            else:
                return True
        return False
    except Exception as exc:
        if not isinstance(exc, Retryable) and p.model is not None and p.generation is not None:
            with session_scope(runtime.engine) as session:
                generations.fail(session, p.generation)
        raise


def _next_phase(runtime: Runtime, job_id: str, p: Progress) -> None:
    """After the pages by id: a build catches up; an in-place job verifies its users (its
    progress then counts users, and the items it placed are kept in its counts)."""
    p.cursor = 0
    if p.phase == Phase.BUILD:
        p.phase = Phase.CATCH_UP
    else:
        p.phase = Phase.REPAIR
        p.count("items", p.done)
        with session_scope(runtime.engine) as session:
            p.done, p.total = 0, verify.count_users(session, p)
    _save(runtime, job_id, p)


def _save(runtime: Runtime, job_id: str, p: Progress) -> None:
    with session_scope(runtime.engine) as session:
        save(session, job_id, p)


def _scope(p: Progress) -> list[ColumnElement[bool]]:
    """The conditions on `items` of the job's scope (none: every item)."""
    if p.user_pk is not None:
        return [Item.user_pk == p.user_pk]
    if p.org_id is not None:
        return [Item.org_id == p.org_id]
    return []


def _up_to_last(p: Progress) -> list[ColumnElement[bool]]:
    """The pages' bound (none for a job checkpointed before the bound was recorded)."""
    return [Item.id <= p.last_id] if p.last_id else []


def snapshot(session: Session) -> int:
    """The largest `index_seq` any committed live write drew: waits (under the switch lock)
    for the live writes in progress to commit, so every number up to it is visible."""
    generations.hold_exclusive(session)
    return int(
        session.execute(
            text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM items_index_seq")
        ).scalar_one()
    )


def _target(session: Session, runtime: Runtime, p: Progress) -> Generation:
    """The generation the job writes into: the one it builds, or the active one."""
    if p.model is None:
        return runtime.active(session)
    assert p.generation is not None
    target = generations.get(session, p.generation)
    if target.state != GenerationState.BUILDING:
        raise Conflict(f"generation {target.id} is {target.state}, no longer being built")
    return target


def _start(runtime: Runtime, job_id: str, p: Progress) -> None:
    with session_scope(runtime.engine) as session:
        target = _target(session, runtime, p)
        runtime.embedder(target.model)  # fails now, clearly, if the model is not built here
        p.last_id = session.execute(select(func.coalesce(func.max(Item.id), 0))).scalar_one()
        p.total = session.execute(
            select(func.count())
            .select_from(Item)
            .where(Item.state == ItemState.INDEXED, Item.id <= p.last_id, *_scope(p))
        ).scalar_one()
        if p.model is not None:
            generations.record_build(session, target.id, runtime.build_of(target.model))
            p.phase = Phase.BUILD
        else:
            p.generation = target.id
            p.phase = Phase.IN_PLACE
        save(session, job_id, p)
    if p.phase == Phase.BUILD:
        with session_scope(runtime.engine) as session:
            p.seq = p.seq_to = snapshot(session)
        _save(runtime, job_id, p)
    log.info("job %s: %s of %d items into generation %s", job_id, p.phase, p.total, target.id)


def _page_by_id(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool | None:
    """The next page in item order into the target, up to the newest item at the start
    (a build's catch-up takes the later ones; live writes place them in place); False
    when none is left, None when no background slot freed before the deadline."""
    with pages.slots(runtime, deadline) as held:
        if not held:
            return None
        with session_scope(runtime.engine) as session:
            target = _target(session, runtime, p)
            rows = pages.load(
                session,
                pages.query(Item.id > p.cursor, *_up_to_last(p), *_scope(p))
                .order_by(Item.id)
                .limit(runtime.settings.reindex.page_items * held),
            )
        if not rows:
            return False
        embedded = pages.embed(runtime, target, rows, streams=held)
    with session_scope(runtime.engine) as session:
        if p.model is None:  # in place: only while the target is still the active one
            generations.hold_shared(session)
            if runtime.active(session).id != target.id:
                return True  # switched meanwhile: the page goes again, for the new one
        pages.write(session, runtime, target, embedded)
        p.cursor = rows[-1].item.id
        p.done += len(rows)
        save(session, job_id, p)
    return True


def _catch_up(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool:
    """One move of phase 2: a new pass, a page of it, or the switch; True once switched."""
    if p.seq_to <= p.seq:  # the last pass is done: how much is left since?
        with session_scope(runtime.engine) as session:
            upto = snapshot(session)
        with session_scope(runtime.engine) as session:
            left = session.execute(
                select(func.count())
                .select_from(Item)
                .where(Item.index_seq > p.seq, Item.index_seq <= upto)
            ).scalar_one()
        if left < runtime.settings.reindex.catch_up_below:
            _switch(runtime, job_id, p)
            return True
        p.seq_to, p.total = upto, p.total + left
        _save(runtime, job_id, p)
        return False
    with pages.slots(runtime, deadline) as held:
        if not held:
            return False
        with session_scope(runtime.engine) as session:
            target = _target(session, runtime, p)
            rows = pages.load(
                session,
                pages.query(Item.index_seq > p.seq, Item.index_seq <= p.seq_to)
                .order_by(Item.index_seq)
                .limit(runtime.settings.reindex.page_items * held),
            )
        if not rows:
            p.seq = p.seq_to
            _save(runtime, job_id, p)
            return False
        embedded = pages.embed(runtime, target, rows, streams=held)
    with session_scope(runtime.engine) as session:
        pages.write(session, runtime, target, embedded)
        last = rows[-1].seq
        assert last is not None
        p.seq, p.done = last, p.done + len(rows)
        save(session, job_id, p)
    return False


def _switch(runtime: Runtime, job_id: str, p: Progress) -> None:
    """Phase 3, in one transaction: the last items, then the new generation active."""
    t0 = time.perf_counter()
    with session_scope(runtime.engine) as session:
        upto = snapshot(session)  # held until commit: live writes wait
        target = _target(session, runtime, p)
        rows = pages.load(
            session,
            pages.query(Item.index_seq > p.seq, Item.index_seq <= upto).order_by(Item.index_seq),
        )
        if rows:
            embedded = pages.embed(runtime, target, rows)
            pages.write(session, runtime, target, embedded)
        retired = generations.switch(session, target, runtime.settings.reindex.keep_old_s)
        p.seq, p.done, p.phase = upto, p.done + len(rows), Phase.DONE
        p.total = max(p.total, p.done)
        save(session, job_id, p)
        held_ms = round((time.perf_counter() - t0) * 1000, 1)
        result = {
            "generation": target.id,
            "model": target.model.name,
            "replaced": retired.id if retired is not None else None,
            "items": p.done,
            "switch_ms": held_ms,
        }
        jobs.complete(session, job_id, result, {"switch_ms": held_ms})
    runtime.index(target).alias(ACTIVE_ALIAS)
    log.info("job %s: generation %s active (%s items)", job_id, target.id, p.done)


def _repair(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool:
    """After an in-place reindex: each user of the scope verified (orphans removed)."""
    with session_scope(runtime.engine) as session:
        target = runtime.active(session)
    done = verify.users_page(runtime, target, p, deadline)
    if done:
        with session_scope(runtime.engine) as session:
            p.phase = Phase.DONE
            save(session, job_id, p)
            jobs.complete(
                session,
                job_id,
                {
                    "generation": target.id,
                    "items": p.counts.get("items", 0),
                    "users": p.done,
                    "repaired": {k: p.counts.get(k, 0) for k in ("missing", "orphans")},
                },
                {},
            )
    else:
        _save(runtime, job_id, p)
    return done


def drop_expired(runtime: Runtime) -> list[int]:
    """Drop the retired and failed generations past their keep time: their collection,
    then their chunk rows, then the mark. Returns the ids dropped."""
    with session_scope(runtime.engine) as session:
        due = generations.expired(session)
    for generation in due:
        runtime.drop_index(generation)
        while True:
            with session_scope(runtime.engine) as session:
                batch = select(Chunk.id).where(Chunk.generation_id == generation.id)
                gone = session.execute(
                    delete(Chunk).where(Chunk.id.in_(batch.limit(DROP_BATCH).scalar_subquery()))
                ).rowcount  # type: ignore[attr-defined]
            if gone < DROP_BATCH:
                break
        with session_scope(runtime.engine) as session:
            generations.mark_dropped(session, generation.id)
        log.info("dropped generation %s (%s)", generation.id, generation.collection)
    return [g.id for g in due]

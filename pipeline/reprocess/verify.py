"""Verify and repair: the active generation's points compared with its chunk rows.

The chunk rows in PostgreSQL say what the index must hold. For each user:

- a row whose point is missing (a shard folder lost with a disk, a slice of a
  collection deleted) has its point made again: its text (under its header, as
  it was embedded) embedded in a background slot and upserted;
- a point with no row (an orphan: an ordinal a shorter version no longer has,
  after an in-place reindex) is deleted.

Both are decided again under the user's write lock, against the index and the rows
as they are then, so a live write or an erasure of the same user in between is
never undone: only points still missing for rows that still exist are written,
and only points with no row at that moment are deleted.

It runs as a job (`persona reindex --verify`, over everyone, an organization or a
user) and on a schedule at a low rate (`tick`, from beat): a few users per tick,
after a cursor kept in Redis, round and round.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from pipeline import generations, jobs, keyspace, placing, users
from pipeline.chunking import Piece
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item, User
from pipeline.generations import Generation
from pipeline.placing import ItemText, Owner
from pipeline.reprocess import pages, steps
from pipeline.reprocess.progress import Progress, save
from pipeline.runtime import Runtime
from pipeline.status import UserStatus
from pipeline.vectors import tenant_key

log = logging.getLogger("persona.verify")

USERS_PER_PAGE = 16
CURSOR_KEY = keyspace.maintenance_key("verify", "cursor")


@dataclass(frozen=True)
class _Row:
    point_id: str
    item: ItemText
    piece: Piece


def _rows(runtime: Runtime, generation: Generation, user_pk: int) -> dict[str, _Row]:
    with session_scope(runtime.engine) as session:
        found = session.execute(
            select(
                Chunk.point_id,
                Chunk.ordinal,
                Chunk.text,
                Chunk.context,
                Chunk.token_count,
                *placing.ITEM_COLUMNS,
            )
            .join(Item, Item.id == Chunk.item_id)
            .where(Chunk.user_pk == user_pk, Chunk.generation_id == generation.id)
        )
        return {
            str(r.point_id): _Row(
                str(r.point_id),
                ItemText.of(r, ""),
                Piece(r.ordinal, r.text, f"{r.context} {r.text}", r.token_count),
            )
            for r in found
        }


def repair_user(
    runtime: Runtime, generation: Generation, owner: Owner, deadline: float | None
) -> dict[str, int] | None:
    """Make the user's points in `generation` match its chunk rows; the counts of what
    was missing and orphaned, or None when no background slot freed before `deadline`."""
    target = runtime.target(generation)
    index = target.index
    tenant = tenant_key(owner.org_id, owner.user_pk)
    rows = _rows(runtime, generation, owner.user_pk)
    points = index.ids(tenant)
    missing = [row for pid, row in rows.items() if pid not in points]
    vectors: dict[str, list[float]] = {}
    if missing:
        embedder = runtime.embedder(generation.model)
        pieces = [row.piece for row in missing]
        if deadline is None:
            found = placing.embed(embedder, pieces)
        else:
            with pages.slots(runtime, deadline) as held:
                if not held:
                    return None
                found = placing.embed(embedder, pieces, streams=held, pool=runtime.background)
        vectors = {row.point_id: v for row, v in zip(missing, found, strict=True)}
    with session_scope(runtime.engine) as session:
        if not users.hold(session, owner.user_pk):
            return {"missing": 0, "orphans": 0}
        now_rows = {
            str(pid): text
            for pid, text in session.execute(
                select(Chunk.point_id, Chunk.text).where(
                    Chunk.user_pk == owner.user_pk, Chunk.generation_id == generation.id
                )
            ).tuples()
        }
        held_ids = index.ids(tenant)
        restore = [
            row
            for row in missing
            if row.point_id not in held_ids and now_rows.get(row.point_id) == row.piece.text
        ]
        orphans = sorted(held_ids - now_rows.keys())
        if restore:
            index.upsert(
                target.point(owner, row.item, row.piece, vectors[row.point_id]) for row in restore
            )
        if orphans:
            index.delete(orphans)
        if restore or orphans:
            index.flush()
    return {"missing": len(restore), "orphans": len(orphans)}


def _in_scope(p: Progress) -> list[ColumnElement[bool]]:
    """The conditions on `users` of the job's scope, active users only."""
    where = [User.status == UserStatus.ACTIVE]
    if p.user_pk is not None:
        where.append(User.id == p.user_pk)
    elif p.org_id is not None:
        where.append(User.org_id == p.org_id)
    return where


def count_users(session: Session, p: Progress) -> int:
    """The users of the job's scope a verify goes through."""
    return session.execute(select(func.count()).select_from(User).where(*_in_scope(p))).scalar_one()


def users_page(runtime: Runtime, generation: Generation, p: Progress, deadline: float) -> bool:
    """Repair the next page of users of the job's scope, counting them in `p`; True once
    none is left."""
    query = (
        select(User.id, User.org_id)
        .where(User.id > p.cursor, *_in_scope(p))
        .order_by(User.id)
        .limit(USERS_PER_PAGE)
    )
    with session_scope(runtime.engine) as session:
        page = session.execute(query).all()
    for user_pk, org_id in page:
        counts = repair_user(runtime, generation, Owner(org_id, user_pk), deadline)
        if counts is None:
            return False
        for name, n in counts.items():
            p.count(name, n)
        p.cursor, p.done = user_pk, p.done + 1
        if time.monotonic() > deadline:
            return False
    return not page


def run_verify_step(runtime: Runtime, job_id: str) -> steps.Step:
    return steps.run(runtime, job_id, _advance)


def _advance(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool:
    with session_scope(runtime.engine) as session:
        generation = runtime.active(session)
        if p.phase == "queued":
            p.phase, p.generation = "verify", generation.id
            p.total = count_users(session, p)
    while True:
        finished = users_page(runtime, generation, p, deadline)
        with session_scope(runtime.engine) as session:
            if finished:
                p.phase = "done"
                save(session, job_id, p)
                result = {"generation": generation.id, "users": p.done, **p.counts}
                jobs.complete(session, job_id, result, {})
                log.info("job %s: verified generation %s: %s", job_id, generation.id, p.counts)
                return True
            save(session, job_id, p)
        if time.monotonic() > deadline:
            return False


def tick(runtime: Runtime) -> dict[str, int]:
    """The scheduled verify: the next `reindex.verify_users` users after the cursor kept
    in Redis (from the first again after the last); the counts repaired."""
    limit = runtime.settings.reindex.verify_users
    cursor = int(runtime.redis.get(CURSOR_KEY) or 0)
    with session_scope(runtime.engine) as session:
        generation = generations.active(session)
        page = session.execute(
            select(User.id, User.org_id)
            .where(User.id > cursor, User.status == UserStatus.ACTIVE)
            .order_by(User.id)
            .limit(limit)
        ).all()
    totals = {"users": 0, "missing": 0, "orphans": 0}
    if generation is None:
        return totals
    deadline = time.monotonic() + runtime.settings.step_budget_s
    for user_pk, org_id in page:
        counts = repair_user(runtime, generation, Owner(org_id, user_pk), deadline)
        if counts is None:
            break
        totals["users"] += 1
        for name, n in counts.items():
            totals[name] += n
        cursor = user_pk
    runtime.redis.set(CURSOR_KEY, cursor if len(page) == limit else 0)
    if totals["missing"] or totals["orphans"]:
        log.warning("scheduled verify repaired generation %s: %s", generation.id, totals)
    return totals

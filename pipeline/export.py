"""Everything Persona holds about one end user, as lines: the right of access that pairs
with erasure (`erasure/`).

`lines` yields one JSON object per line, each with a `kind`: the `user` (its traits),
then every `item` (event or document, with its content as accepted), every stored
`summary`, and every `job` that served the user. Sections are read in keyset pages,
each page in a transaction of its own: the whole user is never in memory, and no
transaction stays open while the client reads slowly. What the index derives from
items (chunks, vectors) is not listed: it holds nothing an item does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.db.engine import session_scope
from pipeline.db.models import Item, Job, Summary, User

PAGE = 500
"""Rows read per transaction."""


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _user(user: User) -> dict[str, Any]:
    return {
        "kind": "user",
        "user_id": user.user_id,
        "metadata": user.traits,
        "purpose": user.purpose,
        "status": user.status,
        "created_at": _time(user.created_at),
        "updated_at": _time(user.updated_at),
    }


def _item(item: Item) -> dict[str, Any]:
    return {
        "kind": "item",
        "item_kind": item.kind,
        "id": item.external_id,
        "source": item.source,
        "type": item.type,
        "title": item.title,
        "timestamp": _time(item.ts),
        "content": item.content,
        "metadata": item.meta,
        "state": item.state,
        "job_id": item.job_id,
        "created_at": _time(item.created_at),
        "updated_at": _time(item.updated_at),
    }


def _summary(summary: Summary) -> dict[str, Any]:
    return {
        "kind": "summary",
        "purpose": summary.purpose,
        "max_chars": summary.max_chars,
        "freshness_days": summary.freshness_days,
        "summary": summary.summary,
        "source": summary.source,
        "generated_at": _time(summary.generated_at),
        "computed_at": _time(summary.computed_at),
    }


def _job(job: Job) -> dict[str, Any]:
    out = jobs.view(job).model_dump(mode="json")
    return {"kind": "job", "job_kind": out.pop("kind"), **out}


def user_pk(engine: Engine, org_id: int, user_id: str) -> int:
    """The user's row id; USER_NOT_FOUND before any line is sent."""
    with session_scope(engine) as session:
        return users.pk(session, org_id, user_id)


Row = Item | Summary | Job


def _pages(
    engine: Engine,
    read: Callable[[Session, Any], Sequence[Row]],
    key: Callable[[Row], Any],
    show: Callable[[Any], dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Rows of one section, page after page by `key`, each page in its own transaction."""
    after: Any = None
    while True:
        with session_scope(engine) as session:
            rows = read(session, after)
            shown = [show(row) for row in rows]  # read while the session is open
        yield from shown
        if len(rows) < PAGE:
            return
        after = key(rows[-1])


def records(engine: Engine, org_id: int, pk: int) -> Iterator[dict[str, Any]]:
    """The user's records in order: user, items (oldest first), summaries, jobs."""
    with session_scope(engine) as session:
        user = session.get(User, pk)
        if user is None or user.org_id != org_id:  # erased since `user_pk`
            return
        head = _user(user)
    yield head

    def items(session: Session, after: int | None) -> Sequence[Item]:
        query = select(Item).where(Item.user_pk == pk, Item.org_id == org_id)
        query = query.where(Item.id > after) if after is not None else query
        return session.execute(query.order_by(Item.id).limit(PAGE)).scalars().all()

    def summaries(session: Session, after: int | None) -> Sequence[Summary]:
        query = select(Summary).where(Summary.user_pk == pk)
        query = query.where(Summary.id > after) if after is not None else query
        return session.execute(query.order_by(Summary.id).limit(PAGE)).scalars().all()

    def user_jobs(session: Session, after: str | None) -> Sequence[Job]:
        query = select(Job).where(Job.org_id == org_id, Job.user_pk == pk)
        query = query.where(Job.id > after) if after is not None else query
        return session.execute(query.order_by(Job.id).limit(PAGE)).scalars().all()

    yield from _pages(engine, items, lambda r: r.id, _item)
    yield from _pages(engine, summaries, lambda r: r.id, _summary)
    yield from _pages(engine, user_jobs, lambda r: r.id, _job)


def lines(engine: Engine, org_id: int, pk: int) -> Iterator[bytes]:
    """`records` as NDJSON: one compact UTF-8 JSON object per line."""
    for record in records(engine, org_id, pk):
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

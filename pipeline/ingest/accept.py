"""The gateway half of ingestion: accepting items, durable before the answer (the outbox).

In one transaction the user is found or created (and locked, so a deletion in
progress wins), new items are inserted, re-sent ones are recognised by their
unique (user, kind, id) and counted as duplicates, and the job that will index
them is written. Publishing the job id happens after commit, by the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.config import IngestSettings
from pipeline.db.models import Item
from pipeline.errors import PayloadTooLarge
from pipeline.schemas import DocumentIn, EventIn, IngestRequest
from pipeline.status import ItemKind, ItemState, JobKind

ITEM_KEY = "uq_items_user_kind_external"


@dataclass(frozen=True)
class Accepted:
    job_id: str
    events: int
    documents: int
    duplicates: int
    updated_at: datetime
    queued: bool  # False when every item was a duplicate: nothing to publish


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_limits(request: IngestRequest, limits: IngestSettings) -> None:
    """Refuse an over-sized request whole, naming the item and field that broke a limit."""
    count = len(request.events) + len(request.documents)
    if count > limits.max_items:
        raise PayloadTooLarge(f"{count} items in one request; the limit is {limits.max_items}")
    checks: list[tuple[str, list[Any], str, int]] = [
        ("events", request.events, "event_id", limits.max_event_bytes),
        ("documents", request.documents, "document_id", limits.max_document_bytes),
    ]
    for field, items, id_field, limit in checks:
        for index, item in enumerate(items):
            size = len(item.content.encode())
            if size > limit:
                raise PayloadTooLarge(
                    f"{field}[{index}].content ({id_field} {getattr(item, id_field)!r}) is "
                    f"{size} bytes; the limit is {limit}"
                )


def _row(org_id: int, user_pk: int, job_id: str, source: str, item: EventIn | DocumentIn) -> dict:
    if isinstance(item, EventIn):
        kind, external_id, title = ItemKind.EVENT, item.event_id, None
    else:
        kind, external_id, title = ItemKind.DOCUMENT, item.document_id, item.title
    return {
        "org_id": org_id,
        "user_pk": user_pk,
        "kind": kind,
        "external_id": external_id,
        "source": source,
        "type": item.type,
        "title": title,
        "ts": item.timestamp,
        "content": item.content,
        "content_hash": content_hash(item.content),
        "meta": item.metadata or {},
        "job_id": job_id,
        "state": ItemState.PENDING,
    }


def accept(
    session: Session, org_id: int, request: IngestRequest, limits: IngestSettings
) -> Accepted:
    """Store what is new in `request` and the job for it; see the module docstring."""
    check_limits(request, limits)
    user = users.writable(users.get_or_create(session, org_id, request.user_id).user)
    job_id = jobs.new_id()

    # A repeated id inside one request is a duplicate too: the first event wins,
    # the last document wins (a later version of the same document).
    events = list({e.event_id: e for e in reversed(request.events)}.values())[::-1]
    documents = list({d.document_id: d for d in request.documents}.values())
    new_events = new_documents = 0
    if events:
        rows = [_row(org_id, user.id, job_id, request.source, e) for e in events]
        # executemany with RETURNING: compiled once and sent in batches by the driver
        # (insertmanyvalues), where one giant VALUES list costs ~0.4 s to compile.
        inserted = session.execute(
            insert(Item).on_conflict_do_nothing(constraint=ITEM_KEY).returning(Item.id), rows
        )
        new_events = len(inserted.all())
    if documents:
        rows = [_row(org_id, user.id, job_id, request.source, d) for d in documents]
        stmt = insert(Item)
        changed = {
            c: stmt.excluded[c]
            for c in ("source", "type", "title", "ts", "content", "content_hash", "metadata")
        }
        upsert = stmt.on_conflict_do_update(
            constraint=ITEM_KEY,
            set_={
                **changed,
                "job_id": job_id,
                "state": ItemState.PENDING,
                "updated_at": func.now(),
            },
            where=Item.content_hash != stmt.excluded.content_hash,
        ).returning(Item.id)
        new_documents = len(session.execute(upsert, rows).all())
    accepted = new_events + new_documents
    duplicates = len(request.events) + len(request.documents) - accepted
    jobs.create(
        session,
        job_id,
        JobKind.INGEST,
        org_id,
        request.user_id,
        user.id,
        items=accepted,
        duplicates=duplicates,
        done=not accepted,
    )
    now = session.execute(select(func.now())).scalar_one()
    return Accepted(job_id, new_events, new_documents, duplicates, now, queued=accepted > 0)

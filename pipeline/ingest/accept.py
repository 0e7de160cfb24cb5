"""The gateway half of ingestion: accepting items, durable before the answer (the outbox).

In one transaction the user is found or created (and locked, so a deletion in
progress wins), new items are inserted, re-sent ones are recognised by their
unique (user, kind, id) and counted as duplicates, and the job that will index
them is written. Publishing the job id happens after commit, by the caller.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.config import IngestSettings
from pipeline.db.models import Item
from pipeline.errors import PayloadTooLarge, PersonaError, UserDeleting
from pipeline.schemas import DocumentIn, EventIn, IngestRequest
from pipeline.status import ItemKind, ItemState, JobKind, UserStatus

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


@dataclass(frozen=True)
class _Part:
    """One request of a group, its user found and its job id chosen."""

    org_id: int
    user_pk: int
    request: IngestRequest
    job_id: str

    @property
    def sent(self) -> int:
        return len(self.request.events) + len(self.request.documents)

    def rows(self, items: list[EventIn] | list[DocumentIn]) -> list[dict]:
        source = self.request.source
        return [_row(self.org_id, self.user_pk, self.job_id, source, i) for i in items]

    def events(self) -> list[dict]:
        """A repeated id inside one request is a duplicate too: the first event wins."""
        events = list({e.event_id: e for e in reversed(self.request.events)}.values())[::-1]
        return self.rows(events)

    def documents(self) -> list[dict]:
        """The last document of a repeated id wins (a later version of the same one)."""
        return self.rows(list({d.document_id: d for d in self.request.documents}.values()))


def _insert_events(session: Session, parts: list[_Part]) -> Counter[str]:
    """The new events of every request, inserted; how many were new, per job."""
    rows = [row for part in parts for row in part.events()]
    if not rows:
        return Counter()
    # executemany with RETURNING: compiled once and sent in batches by the driver
    # (insertmanyvalues), where one giant VALUES list costs ~0.4 s to compile.
    inserted = session.execute(
        insert(Item).on_conflict_do_nothing(constraint=ITEM_KEY).returning(Item.job_id), rows
    )
    return Counter(inserted.scalars())


def _upsert_documents(session: Session, part: _Part) -> int:
    """The request's documents, stored where new or changed; how many were."""
    rows = part.documents()
    if not rows:
        return 0
    stmt = insert(Item)
    changed = {
        c: stmt.excluded[c]
        for c in ("source", "type", "title", "ts", "content", "content_hash", "metadata")
    }
    upsert = stmt.on_conflict_do_update(
        constraint=ITEM_KEY,
        set_={
            **changed,
            "job_id": part.job_id,
            "state": ItemState.PENDING,
            "updated_at": func.now(),
        },
        where=Item.content_hash != stmt.excluded.content_hash,
    ).returning(Item.id)
    return len(session.execute(upsert, rows).all())


def accept(
    session: Session,
    org_id: int,
    request: IngestRequest,
    limits: IngestSettings,
    lane: str | None = None,
) -> Accepted:
    """Store what is new in `request` and the job for it, queued in `lane` (the broker
    its message goes through, `Settings.lane`); see the module docstring."""
    result = accept_all(session, [(org_id, request)], limits, lane)[0]
    if isinstance(result, PersonaError):
        raise result
    return result


def accept_all(
    session: Session,
    requests: list[tuple[int, IngestRequest]],
    limits: IngestSettings,
    lane: str | None = None,
) -> list[Accepted | PersonaError]:
    """`accept` for several requests in one transaction (the gateway's group commit),
    each with its own job and its own answer: a request refused (too large, its user being
    deleted) is refused before it writes anything, and the others go on.

    Their users are locked in one order, (organization, id), whatever order the requests
    came in, so that two groups never wait on each other in a cycle; their new events
    go in one statement (a repeated event id: the first request's wins, the others count
    it as a duplicate, as if they had come one after the other)."""
    results: list[Accepted | PersonaError | None] = []
    for _, request in requests:
        try:
            check_limits(request, limits)
            results.append(None)
        except PersonaError as refused:
            results.append(refused)
    admitted = [(org, r) for (org, r), done in zip(requests, results, strict=True) if done is None]
    wanted = [(org, request.user_id) for org, request in admitted]
    found = users.get_or_create_many(session, wanted)
    parts: list[tuple[int, _Part]] = []
    for n, ((org_id, request), done) in enumerate(zip(requests, results, strict=True)):
        if done is not None:
            continue
        user = found[(org_id, request.user_id)]
        if user.status == UserStatus.DELETING:  # writes wait for the erasure
            results[n] = UserDeleting(request.user_id)
        else:
            parts.append((n, _Part(org_id, user.id, request, jobs.new_id())))
    new_events = _insert_events(session, [part for _, part in parts])
    counts, queued = [], []
    for _, part in parts:
        events = new_events[part.job_id]
        accepted = events + _upsert_documents(session, part)
        counts.append((events, accepted - events))
        job = jobs.Queued(
            part.job_id,
            JobKind.INGEST,
            part.org_id,
            part.request.user_id,
            part.user_pk,
            items=accepted,
            duplicates=part.sent - accepted,
            lane=lane,
        )
        if accepted:
            queued.append(job)
        else:  # every item a duplicate: its job is written done, nothing to queue
            jobs.create(
                session,
                job.id,
                job.kind,
                job.org_id,
                job.user_id,
                job.user_pk,
                duplicates=job.duplicates,
                done=True,
            )
    jobs.create_queued(session, queued)
    now = session.execute(select(func.now())).scalar_one()
    for (n, part), (events, documents) in zip(parts, counts, strict=True):
        accepted = events + documents
        results[n] = Accepted(
            part.job_id, events, documents, part.sent - accepted, now, queued=accepted > 0
        )
    return [r for r in results if r is not None]

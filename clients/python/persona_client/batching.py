"""`ingest_many`'s plan: stable ids for every item, then requests within the server's limits.

Why stable ids: `/ingest` stores an item once per id and counts a re-sent one as
a duplicate. An item that comes without an id gets one derived from what it
holds (its kind, content, timestamp, type, title, metadata), so running the same
import again after a crash, or twice, adds nothing twice.

Why two limits: the gateway refuses a request of more than `MAX_ITEMS` events
and documents together, or a body over `MAX_BODY_BYTES` (its defaults, which an
operator may lower). Batches are packed greedily under both, measuring the
exact bytes that will be sent; a server configured lower answers 413, and the
client then halves that batch and sends the halves (the ids make that safe).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from persona_client import models
from persona_client.calls import Call, encode, ingest_body

MAX_ITEMS = 1000
"""Events plus documents in one request: the gateway's `PERSONA_INGEST_MAX_ITEMS` default."""
MAX_BODY_BYTES = 10 * 1024 * 1024
"""Largest body: the gateway's `PERSONA_GATEWAY_MAX_BODY_BYTES` default."""

Item = models.EventIn | models.DocumentIn | Mapping[str, Any]
EVENTS, DOCUMENTS = "events", "documents"
ID_FIELD = {EVENTS: "event_id", DOCUMENTS: "document_id"}
ID_PREFIX = {EVENTS: "evt_", DOCUMENTS: "doc_"}


@dataclass(frozen=True)
class Prepared:
    """One item, validated, with its id, as the JSON it will be sent as."""

    kind: str
    item_id: str
    json: bytes


def kind_of(item: Item) -> str:
    """A document if it is one, or a mapping with `document_id` or `title`; else an event."""
    if isinstance(item, models.DocumentIn):
        return DOCUMENTS
    if isinstance(item, models.EventIn):
        return EVENTS
    return DOCUMENTS if "document_id" in item or "title" in item else EVENTS


def stable_id(kind: str, fields: Mapping[str, Any]) -> str:
    """The id an item without one gets: the same fields give the same id, run after run."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ID_PREFIX[kind] + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def prepare(item: Item) -> Prepared:
    """`item` checked by its generated model (ValidationError if it breaks it), with an id."""
    kind = kind_of(item)
    id_field = ID_FIELD[kind]
    raw = item.model_dump(exclude_unset=True) if isinstance(item, BaseModel) else dict(item)
    model = models.DocumentIn if kind == DOCUMENTS else models.EventIn
    given = raw.get(id_field)
    checked = model.model_validate({**raw, id_field: given or "pending"})
    fields = checked.model_dump(mode="json", exclude_unset=True)
    if not given:
        # defaults included: `type` left out or given as its default is the same item
        whole = checked.model_dump(mode="json", exclude={id_field})
        fields[id_field] = stable_id(kind, whole)
    return Prepared(kind, fields[id_field], encode(fields))


class Batch:
    """Items of one `/ingest` request, and the exact size of the body they make."""

    def __init__(self, user_id: str, source: str | None, items: Iterable[Prepared] = ()) -> None:
        self.user_id, self.source = user_id, source
        self.items: list[Prepared] = []
        self._kinds: set[str] = set()
        head = {"user_id": user_id} | ({"source": source} if source else {})
        self._head = encode(head)[:-1]  # the object left open for the lists
        self.size = len(self._head) + 1
        for item in items:
            self.add(item)

    def __len__(self) -> int:
        return len(self.items)

    def size_with(self, item: Prepared) -> int:
        """Bytes of the body once `item` joins: a new list's key and brackets, or a comma."""
        extra = 1 if item.kind in self._kinds else len(f',"{item.kind}":[]')
        return self.size + extra + len(item.json)

    def add(self, item: Prepared) -> None:
        self.size = self.size_with(item)
        self.items.append(item)
        self._kinds.add(item.kind)

    def body(self) -> bytes:
        parts = [self._head]
        for kind in (EVENTS, DOCUMENTS):
            found = [p.json for p in self.items if p.kind == kind]
            if found:
                parts.append(b',"' + kind.encode() + b'":[' + b",".join(found) + b"]")
        return b"".join(parts) + b"}"

    def call(self) -> Call[models.IngestResponse]:
        return ingest_body(self.body())

    def halves(self) -> list[Batch]:
        middle = len(self.items) // 2
        return [
            Batch(self.user_id, self.source, self.items[:middle]),
            Batch(self.user_id, self.source, self.items[middle:]),
        ]


def plan(
    user_id: str, items: Iterable[Item], source: str | None, batch_size: int, max_bytes: int
) -> list[Batch]:
    """Every item, prepared, packed in order into batches of at most `batch_size` items
    and `max_bytes` of body. All are checked before any is sent: a bad item, or one too
    large for a body of its own, raises here and nothing is sent."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batches = [Batch(user_id, source)]
    for item in items:
        prepared = prepare(item)
        current = batches[-1]
        if current.items and (
            len(current) >= batch_size or current.size_with(prepared) > max_bytes
        ):
            current = Batch(user_id, source)
            batches.append(current)
        if current.size_with(prepared) > max_bytes:
            raise ValueError(
                f"item {prepared.item_id!r} alone makes a body of "
                f"{current.size_with(prepared)} bytes; the limit is {max_bytes}"
            )
        current.add(prepared)
    return [b for b in batches if b.items]


@dataclass
class IngestSummary:
    """What `ingest_many` sent: one answer per request, and their totals."""

    responses: list[models.IngestResponse] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(r.ingested.events for r in self.responses)

    @property
    def documents(self) -> int:
        return sum(r.ingested.documents for r in self.responses)

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.responses)

    @property
    def job_ids(self) -> list[str]:
        """The indexing jobs, one per request (`wait_for_job` each to know it is searchable)."""
        return [r.job_id for r in self.responses]

"""A producer's signed message, accepted like `/ingest` once its signature holds.

The gateway verifies the raw body against the source's secrets first (nothing is
read as JSON, nothing is written, before that). Then the body is read: either
Persona's own ingest body, or the producer's JSON through the source's mapping.
Items without an id of their own take the message's `webhook-id` and their
position, so a producer's redelivery of one message is counted as duplicates and
starts no second indexing job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pipeline.config import IngestSettings
from pipeline.errors import InvalidInput
from pipeline.fields import parse_json
from pipeline.ingest import accept
from pipeline.schemas import IngestRequest
from pipeline.webhooks import mapping
from pipeline.webhooks.sources import Source


def _with_ids(body: Any, webhook_id: str) -> Any:
    """Persona's own body, each item without an id given `webhook-id:position`."""
    if isinstance(body, dict):
        for field, id_field in (("events", "event_id"), ("documents", "document_id")):
            items = body.get(field)
            if isinstance(items, list):
                for position, item in enumerate(items):
                    if isinstance(item, dict) and id_field not in item:
                        item[id_field] = f"{webhook_id}:{field}:{position}"
    return body


def read(source: Source, body: bytes, webhook_id: str, received: datetime) -> IngestRequest:
    """The ingest request a verified message means; INVALID_REQUEST naming what is wrong."""
    try:
        payload = parse_json(body)
    except ValueError as exc:
        raise InvalidInput(f"Malformed JSON body: {exc}") from None
    try:
        if source.mapping is not None:
            return mapping.apply(source.mapping, payload, source.name, webhook_id, received)
        return IngestRequest.model_validate(_with_ids(payload, webhook_id))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"Invalid field {where}: {message}" if where else message) from None


def receive(
    session: Session,
    source: Source,
    body: bytes,
    webhook_id: str,
    received: datetime,
    limits: IngestSettings,
    lane: str | None = None,
) -> accept.Accepted:
    """Store what is new in a verified message, and its indexing job (the outbox), queued
    in `lane` (`accept.accept`)."""
    request = read(source, body, webhook_id, received)
    return accept.accept(session, source.org_id, request, limits, lane)

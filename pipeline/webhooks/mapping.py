"""A producer's own JSON read into an ingest request, with JMESPath expressions.

A mapping names where things are. Every expression is evaluated against
`{"payload": <the whole body>, "item": <one item>}`, so that a field may come
from the item or from the envelope around it:

    {"items": "payload.messages",         # optional: one item per element; else the body
     "user_id": "payload.account.id",     # required
     "content": "item.text",              # required
     "timestamp": "item.sent_at",         # optional: ISO 8601 or epoch seconds
     "type": "item.kind",                 # optional: else "event"
     "id": "item.message_id"}             # optional: else `webhook-id` and the position

An item without its own id takes the message's `webhook-id` and its position,
so a redelivered message is recognised, item by item, as duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from pipeline.errors import InvalidInput
from pipeline.schemas import IngestRequest

FIELDS = ("items", "user_id", "content", "timestamp", "type", "id")
REQUIRED = ("user_id", "content")


def check(mapping: dict[str, Any]) -> dict[str, str]:
    """`mapping`, if it names only known fields with valid expressions (INVALID_REQUEST
    naming the first that is not)."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown mapping field(s): {', '.join(unknown)}; known: {FIELDS}")
    for field in REQUIRED:
        if field not in mapping:
            raise InvalidInput(f"A mapping needs '{field}'")
    for field, expression in mapping.items():
        if not isinstance(expression, str):
            raise InvalidInput(f"mapping.{field} must be a JMESPath expression (a string)")
        try:
            jmespath.compile(expression)
        except JMESPathError as exc:
            raise InvalidInput(f"mapping.{field} is not valid JMESPath: {exc}") from None
    return dict(mapping)


def _timestamp(value: Any, default: datetime) -> str:
    if value is None:
        return default.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise InvalidInput(f"timestamp {value!r} is out of range") from None
    return str(value)


def apply(
    mapping: dict[str, str], payload: Any, source: str, webhook_id: str, received: datetime
) -> IngestRequest:
    """The ingest request the producer's `payload` means under `mapping`; INVALID_REQUEST
    when it does not hold what the mapping names."""
    items = jmespath.search(mapping["items"], {"payload": payload}) if "items" in mapping else None
    if items is None:
        items = [payload]
    if not isinstance(items, list) or not items:
        raise InvalidInput("mapping.items found no list of items in the payload")
    events: list[dict[str, Any]] = []
    user_ids: set[str] = set()
    for position, item in enumerate(items):
        scope = {"payload": payload, "item": item}

        def read(field: str, scope: dict[str, Any] = scope) -> Any:
            return jmespath.search(mapping[field], scope) if field in mapping else None

        user_id, content = read("user_id"), read("content")
        if user_id is None or content is None:
            missing = "user_id" if user_id is None else "content"
            raise InvalidInput(f"items[{position}]: mapping.{missing} found nothing")
        user_ids.add(str(user_id))
        own_id = read("id")
        events.append(
            {
                "event_id": str(own_id) if own_id is not None else f"{webhook_id}:{position}",
                "type": str(read("type") or "event"),
                "timestamp": _timestamp(read("timestamp"), received),
                "content": content if isinstance(content, str) else str(content),
            }
        )
    if len(user_ids) != 1:
        raise InvalidInput(f"One message is for one user; this one names {len(user_ids)}")
    return IngestRequest.model_validate(
        {"user_id": user_ids.pop(), "source": source, "events": events}
    )

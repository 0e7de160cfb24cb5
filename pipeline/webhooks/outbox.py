"""Events for the organization's endpoints, written in the transaction of the change they
report (the outbox): a crash between the change and the event cannot lose or invent one.

`emit` writes the event and one pending delivery per enabled endpoint that wants
its type, in one statement; with no such endpoint it writes nothing at all, so an
organization without endpoints pays one indexed read per event, and a batch of
events (`listening`, then `emit` where it found endpoints) one read in all. Events about a
user carry its `user_pk`: the erasure deletes them, and their deliveries, like
every other row of the user, so none is sent after it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from ulid import ULID

from pipeline.status import EventType

_EMIT = text(
    """
WITH wanted AS (
    SELECT id FROM webhook_endpoints
    WHERE org_id = :org_id AND disabled_at IS NULL AND :type = ANY (events)
),
event AS (
    INSERT INTO webhook_events (id, org_id, user_pk, type, data)
    SELECT :id, :org_id, :user_pk, :type, CAST(:data AS jsonb)
    WHERE EXISTS (SELECT 1 FROM wanted)
    RETURNING id
)
INSERT INTO webhook_deliveries (event_id, endpoint_id, org_id, user_pk, status, attempts)
SELECT event.id, wanted.id, :org_id, :user_pk, 'pending', 0 FROM event, wanted
"""
)

_LISTENING = text(
    """
SELECT DISTINCT org_id, type
FROM webhook_endpoints, unnest(events) AS type
WHERE org_id = ANY (:orgs) AND disabled_at IS NULL AND type = ANY (:types)
"""
)


def listening(session: Session, wanted: set[tuple[int, EventType]]) -> set[tuple[int, EventType]]:
    """Which of the (organization, event type) pairs `wanted` have an enabled endpoint
    that wants them, in one indexed read: what a batch of events checks before it
    writes any (`emit` for each of those only)."""
    if not wanted:
        return set()
    rows = session.execute(
        _LISTENING,
        {"orgs": sorted({org for org, _ in wanted}), "types": sorted({t for _, t in wanted})},
    )
    found = {(row.org_id, EventType(row.type)) for row in rows}
    return found & wanted


def emit(
    session: Session,
    org_id: int,
    event_type: EventType,
    data: dict[str, Any],
    user_pk: int | None = None,
) -> int:
    """Record `event_type` with `data` (ids and counts, no user content) for every
    subscribed endpoint; returns how many deliveries are now pending."""
    result = session.execute(
        _EMIT,
        {
            "id": f"msg_{ULID()}",
            "org_id": org_id,
            "user_pk": user_pk,
            "type": event_type.value,
            "data": json.dumps(data, default=str),
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

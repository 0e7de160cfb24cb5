"""An organization's receivers of signed events, registered by an admin, and their
deliveries as an admin sees them.

Each has its own secret (shown once), the event types it wants, and a record of
its health: `failing_since` the first failure after a success, and, once every
attempt failed for `webhooks.disable_after_s`, `disabled_at` with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from ulid import ULID

from pipeline.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from pipeline.errors import InvalidInput, NotFound
from pipeline.status import DeliveryStatus, EventType
from pipeline.webhooks import addresses
from pipeline.webhooks.secrets import new_secret


def create(
    session: Session,
    org_id: int,
    url: str,
    events: list[str],
    description: str | None,
    allow_private: bool,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once). Its URL must resolve to an address a
    delivery may reach; its events must be known."""
    unknown = sorted(set(events) - {e.value for e in EventType})
    if unknown or not events:
        known = ", ".join(e.value for e in EventType)
        raise InvalidInput(f"events must be among {known}; got {', '.join(unknown) or 'none'}")
    addresses.pin(url, allow_private)
    row = WebhookEndpoint(
        id=f"ep_{ULID()}",
        org_id=org_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret=new_secret(),
    )
    session.add(row)
    session.flush()
    return row, row.secret


def listing(session: Session, org_id: int) -> list[WebhookEndpoint]:
    return list(
        session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.org_id == org_id)
            .order_by(WebhookEndpoint.created_at)
        ).scalars()
    )


def own(session: Session, org_id: int, endpoint_id: str) -> WebhookEndpoint:
    row = session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == org_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No webhook endpoint found with ID {endpoint_id}")
    return row


def remove(session: Session, org_id: int, endpoint_id: str) -> None:
    """The endpoint and its deliveries (pending ones are not sent)."""
    own(session, org_id, endpoint_id)
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


def retry(session: Session, org_id: int, endpoint_id: str, delivery_id: int) -> None:
    """Send one delivery again now, whatever became of it (an operator's retry)."""
    found = session.execute(
        select(WebhookDelivery.id).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.org_id == org_id,
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No delivery {delivery_id} of endpoint {endpoint_id}")
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=datetime.now(UTC),
            locked_until=None,
            updated_at=datetime.now(UTC),
        )
    )


def recent(session: Session, org_id: int, endpoint_id: str, limit: int = 50) -> list[dict]:
    """The endpoint's latest deliveries, newest first, each with its attempts."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.org_id == org_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    ids = [delivery.id for delivery, _ in rows]
    attempts: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    for row in session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
    ).scalars():
        attempts[row.delivery_id].append(row)
    return [
        {
            "delivery_id": delivery.id,
            "event_type": event_type,
            "webhook_id": delivery.event_id,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "next_attempt_at": (
                delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None
            ),
            "last_status_code": delivery.last_status_code,
            "tries": [
                {
                    "attempt": a.attempt,
                    "status_code": a.status_code,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                    "at": a.at,
                }
                for a in attempts[delivery.id]
            ],
        }
        for delivery, event_type in rows
    ]

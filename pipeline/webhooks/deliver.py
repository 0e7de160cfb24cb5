"""Deliveries: claimed when due, sent signed, recorded, retried on a schedule.

1. `due` (beat, every `webhooks.poll_s`, and right after a change that emitted
   events) leases the pending deliveries whose time has come: each is held for
   a while so that a second look does not send it again, and its worker is
   given its attempt number;
2. `attempt` claims the delivery for that attempt (a duplicate message finds the
   number moved on and does nothing), then, with no transaction open, sends the
   event to the endpoint's pinned address, signed with its secret, under the
   event's id as `webhook-id`, the same on every attempt;
3. the outcome is recorded with the attempt: a 2xx ends the delivery; anything
   else (a timeout, a refused connection, a non-2xx) schedules the next try
   after the schedule's delay, with jitter, until the schedule is spent.

An endpoint whose every attempt failed for `webhooks.disable_after_s` is
disabled, says why, and its pending deliveries fail. A worker that dies
mid-attempt leaves the delivery held until its lease ends; then `due` sends it
again. What is kept of an attempt: status, latency, an error's kind, at most
1 KB of the answer. Nothing of the user.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session

from pipeline.config import WebhooksSettings
from pipeline.db.engine import session_scope
from pipeline.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from pipeline.errors import InvalidInput
from pipeline.metrics import WEBHOOK_ATTEMPTS
from pipeline.status import DeliveryStatus
from pipeline.webhooks import addresses, secrets

log = logging.getLogger("persona.webhooks")

KEPT_BYTES = 1024
JITTER = 0.2
BATCH = 200  # deliveries leased at once


def lease_s(settings: WebhooksSettings) -> float:
    """How long a leased delivery is held: an attempt ends well within it."""
    return 2 * settings.timeout_s + 5


@dataclass(frozen=True)
class Due:
    delivery_id: int
    attempt: int  # the number this attempt will have


def due(session: Session, settings: WebhooksSettings, limit: int = BATCH) -> list[Due]:
    """Lease the deliveries due now (see the module docstring)."""
    rows = session.execute(
        text(
            """
            UPDATE webhook_deliveries SET locked_until = now() + make_interval(secs => :lease)
            WHERE id IN (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now()
                  AND (locked_until IS NULL OR locked_until < now())
                ORDER BY next_attempt_at
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id, attempts
            """
        ),
        {"lease": lease_s(settings), "limit": limit},
    )
    return [Due(row.id, row.attempts + 1) for row in rows]


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempt: int
    endpoint_id: str
    url: str
    secret: str
    webhook_id: str
    body: str
    user_pk: int | None


def body_of(event: WebhookEvent) -> str:
    """The event as sent, the same bytes on every attempt."""
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.data},
        separators=(",", ":"),
        sort_keys=True,
    )


def claim(session: Session, delivery_id: int, attempt: int) -> Claimed | None:
    """Take `attempt` of the delivery; None if it is not the attempt due (a duplicate
    message), or the delivery has ended, or its endpoint is disabled."""
    delivery = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.attempts == attempt - 1,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(attempts=attempt, updated_at=datetime.now(UTC))
        .returning(WebhookDelivery)
    ).scalar_one_or_none()
    if delivery is None:
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    event = session.get(WebhookEvent, delivery.event_id)
    if endpoint is None or event is None or endpoint.disabled_at is not None:
        return None
    return Claimed(
        delivery.id,
        attempt,
        endpoint.id,
        endpoint.url,
        endpoint.secret,
        event.id,
        body_of(event),
        delivery.user_pk,
    )


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    latency_ms: float
    error: str | None
    response: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def send(client: httpx.Client, claimed: Claimed, settings: WebhooksSettings) -> Answer:
    """POST the event, signed, to the endpoint's address as resolved now."""
    t0 = time.perf_counter()
    try:
        target = addresses.pin(claimed.url, settings.allow_private_urls)
    except InvalidInput as refused:
        return Answer(None, 0.0, refused.message, None)
    headers = {
        **secrets.headers(claimed.secret, claimed.webhook_id, datetime.now(UTC), claimed.body),
        "content-type": "application/json",
        "host": target.host,
        "user-agent": "Persona-Webhooks/1",
    }
    try:
        with client.stream(
            "POST",
            target.url,
            content=claimed.body.encode(),
            headers=headers,
            timeout=settings.timeout_s,
            extensions={"sni_hostname": target.host},
        ) as response:
            kept = b""
            for chunk in response.iter_bytes():
                kept += chunk
                if len(kept) >= KEPT_BYTES:
                    break
            code = response.status_code
    except httpx.HTTPError as exc:
        return Answer(None, _ms(t0), type(exc).__name__, None)
    return Answer(code, _ms(t0), None, kept[:KEPT_BYTES].decode("utf-8", "replace"))


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


def record(
    session: Session, claimed: Claimed, answer: Answer, settings: WebhooksSettings
) -> DeliveryStatus:
    """The attempt, the delivery's new state, and the endpoint's health."""
    now = datetime.now(UTC)
    session.add(
        WebhookAttempt(
            delivery_id=claimed.delivery_id,
            user_pk=claimed.user_pk,
            attempt=claimed.attempt,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            error=answer.error,
            response=answer.response,
        )
    )
    endpoint = session.get(WebhookEndpoint, claimed.endpoint_id, with_for_update=True)
    values: dict[str, object] = {
        "last_status_code": answer.status_code,
        "last_error": answer.error,
        "locked_until": None,
        "updated_at": now,
    }
    if answer.ok:
        status = DeliveryStatus.SUCCEEDED
        if endpoint is not None:
            endpoint.failing_since = None
    elif claimed.attempt > len(settings.retry_schedule_s):
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
        delay = settings.retry_schedule_s[claimed.attempt - 1]
        delay *= 1 + random.uniform(-JITTER, JITTER)
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.delivery_id)
        .values(status=status, **values)
    )
    if not answer.ok and endpoint is not None:
        endpoint.failing_since = endpoint.failing_since or now
        failing_s = (now - endpoint.failing_since).total_seconds()
        if endpoint.disabled_at is None and failing_s >= settings.disable_after_s:
            disable(session, endpoint, f"every attempt failed for {failing_s:.0f} s", now)
    return status


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, last_error="endpoint disabled", updated_at=now)
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def attempt(
    engine: Engine, client: httpx.Client, settings: WebhooksSettings, delivery_id: int, number: int
) -> DeliveryStatus | None:
    """Attempt `number` of the delivery, end to end; None if it was not due."""
    with session_scope(engine) as session:
        claimed = claim(session, delivery_id, number)
    if claimed is None:
        return None
    answer = send(client, claimed, settings)
    with session_scope(engine) as session:
        status = record(session, claimed, answer, settings)
    WEBHOOK_ATTEMPTS.labels(status.value).inc()  # once the attempt is on record
    return status


def leased(engine: Engine, settings: WebhooksSettings) -> list[Due]:
    """`due`, in a transaction of its own."""
    with session_scope(engine) as session:
        return due(session, settings)

"""Producers that push signed events: registered by an admin, each with its own secret.

The secret is shown once, when made (or rotated), and kept so that it can verify
(HMAC needs it); it never appears in a log or a later answer. A rotation keeps
the old secret verifying for `webhooks.rotation_grace_s`, so a producer can
switch without losing a message, as the specification's several signatures per
message allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from ulid import ULID

from pipeline.db.models import WebhookSource
from pipeline.errors import Conflict, NotFound
from pipeline.webhooks import mapping as mappings
from pipeline.webhooks.secrets import new_secret


@dataclass(frozen=True)
class Source:
    """What verifying and reading a message needs of its source."""

    id: str
    org_id: int
    name: str
    mapping: dict[str, str] | None
    secret: str
    previous_secret: str | None
    previous_until: datetime | None

    def secrets_now(self, now: datetime) -> list[str]:
        """The secrets a message may be signed with now."""
        current = [self.secret]
        if self.previous_secret and self.previous_until and now < self.previous_until:
            current.append(self.previous_secret)
        return current

    @classmethod
    def of(cls, row: WebhookSource) -> Source:
        return cls(
            row.id,
            row.org_id,
            row.name,
            row.mapping,
            row.secret,
            row.previous_secret,
            row.previous_until,
        )


def create(
    session: Session, org_id: int, name: str, mapping: dict[str, Any] | None
) -> tuple[WebhookSource, str]:
    """A new source and its secret (shown to the caller once)."""
    row = WebhookSource(
        id=f"src_{ULID()}",
        org_id=org_id,
        name=name,
        mapping=mappings.check(mapping) if mapping is not None else None,
        secret=new_secret(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(f"A source named {name!r} exists already") from None
    return row, row.secret


def listing(session: Session, org_id: int) -> list[WebhookSource]:
    return list(
        session.execute(
            select(WebhookSource)
            .where(WebhookSource.org_id == org_id)
            .order_by(WebhookSource.created_at)
        ).scalars()
    )


def _own(session: Session, org_id: int, source_id: str) -> WebhookSource:
    row = session.execute(
        select(WebhookSource)
        .where(WebhookSource.id == source_id, WebhookSource.org_id == org_id)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No source found with ID {source_id}")
    return row


def rotate(
    session: Session, org_id: int, source_id: str, grace_s: float
) -> tuple[WebhookSource, str]:
    """A new secret for the source; the current one keeps verifying for `grace_s`."""
    row = _own(session, org_id, source_id)
    row.previous_secret = row.secret
    row.previous_until = datetime.now(UTC) + timedelta(seconds=grace_s)
    row.secret = new_secret()
    return row, row.secret


def remove(session: Session, org_id: int, source_id: str) -> None:
    _own(session, org_id, source_id)
    session.execute(delete(WebhookSource).where(WebhookSource.id == source_id))


def find(session: Session, source_id: str) -> Source | None:
    """The source a message is addressed to, whatever its organization (the message's
    signature, not a key, says who sent it)."""
    row = session.get(WebhookSource, source_id)
    return Source.of(row) if row is not None else None

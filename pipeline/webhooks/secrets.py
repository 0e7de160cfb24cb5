"""Secrets and signatures of the Standard Webhooks specification, through its library.

A secret is `whsec_` and 24 random bytes in base64. A message is signed over
`{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 (`standardwebhooks`),
and a verification fails for a wrong signature, missing headers, or a timestamp
more than 5 minutes away from now.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, webhook_id: str, at: datetime, body: str) -> str:
    """The `webhook-signature` header value of `body` sent as `webhook_id` at `at`."""
    return Webhook(secret).sign(webhook_id, at, body)


def headers(secret: str, webhook_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three headers a signed message carries."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.astimezone(UTC).timestamp())),
        "webhook-signature": sign(secret, webhook_id, at, body),
    }


def verifies(candidates: list[str], body: bytes, received: dict[str, str]) -> bool:
    """Whether `body` with `received` headers was signed, within the time tolerance, by
    one of the `candidates` secrets (during a rotation: the new one and the old one)."""
    for secret in candidates:
        try:
            Webhook(secret).verify(body, received, json_parse=False)
        except (WebhookVerificationError, ValueError, binascii.Error, UnicodeDecodeError):
            continue
        return True
    return False

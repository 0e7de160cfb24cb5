"""Standard Webhooks signatures, for a producer that pushes to `POST /webhooks/{source_id}`.

The gateway checks `webhook-signature` over `{webhook-id}.{webhook-timestamp}.{body}`
(HMAC-SHA256 keyed with the source's `whsec_` secret) before it reads anything,
and refuses a timestamp more than 5 minutes from its clock. The standard library
is enough to sign, so the SDK needs no webhook package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

PREFIX = "whsec_"


def sign(
    secret: str, body: bytes, webhook_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """The three headers of a signed message. Without `webhook_id` the id is derived
    from the body, so sending the same payload twice is one message to the server
    (items without ids of their own take the message id and their position)."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    message_id = webhook_id or "msg_" + hashlib.sha256(body).hexdigest()[:32]
    timestamp = str(int((at or datetime.now(UTC)).timestamp()))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{digest}",
    }

"""OpenAPI descriptions of the error answers each route can give."""

from __future__ import annotations

from typing import Any

from pipeline.schemas import ErrorEnvelope

DESCRIPTIONS = {
    400: "INVALID_REQUEST: malformed JSON or a missing or wrong field",
    401: "UNAUTHORIZED: missing, unknown or revoked API key (INVALID_SIGNATURE: a webhook "
    "message whose signature does not verify)",
    403: "FORBIDDEN: the key lacks the scope this route needs",
    404: "USER_NOT_FOUND: no such user in this organization",
    409: "USER_DELETING: the user is being deleted",
    413: "PAYLOAD_TOO_LARGE: the body exceeds the configured limit",
    415: "UNSUPPORTED_MEDIA_TYPE: the body is not JSON (send application/json)",
    422: "VALIDATION_ERROR: the body parses but breaks the schema",
    429: "RATE_LIMITED: retry after the number of seconds in Retry-After",
    500: "SERVER_ERROR: internal error, retry with exponential backoff",
    503: "UNAVAILABLE: a dependency did not answer in time",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorEnvelope, "description": DESCRIPTIONS[s]} for s in statuses}

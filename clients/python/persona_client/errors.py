"""The exceptions a call raises: one per kind of answer, each with the envelope's fields.

Every error the gateway sends is `{"error": {"code", "message", "request_id"}}`
with a status the code implies; `error_for` turns such an answer (or anything
else a proxy in between may send) into the exception of its status, so callers
catch `NotFound` or `RateLimited` rather than compare numbers. `request_id` is
what to quote to whoever runs the server: it names the request in their logs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class PersonaError(Exception):
    """An answer that is not a success, or no answer at all (`status` is None then)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}{where}"


class ConnectionFailed(PersonaError):
    """The server could not be reached, or did not answer within the timeout."""


class BadRequest(PersonaError):
    """400: malformed JSON, or a missing or wrong field."""


class Unauthorized(PersonaError):
    """401: no key, an unknown or revoked one (or a webhook whose signature fails)."""


class Forbidden(PersonaError):
    """403: the key lacks the scope the operation needs."""


class NotFound(PersonaError):
    """404: no such user, job, source or endpoint in the key's organization."""


class Conflict(PersonaError):
    """409: the user is being deleted (`USER_DELETING`), or the name is taken."""


class PayloadTooLarge(PersonaError):
    """413: the body, an item, or the number of items is over the server's limit."""


class UnprocessableEntity(PersonaError):
    """422: the body parses but breaks the schema (the `/v1/` routes)."""


class RateLimited(PersonaError):
    """429: the organization's rate limit, or the ingest backlog; `retry_after_s` says when."""


class ServerError(PersonaError):
    """500: the server failed; `request_id` finds it in the server's logs."""


class Unavailable(PersonaError):
    """503: a store or the workers did not answer in time; `retry_after_s` says when."""


class JobFailed(PersonaError):
    """`wait_for_job` found the job failed; `job` is its last state, with its error."""

    def __init__(self, job: Any) -> None:
        super().__init__(f"job {job.job_id} failed: {job.error}", code="JOB_FAILED")
        self.job = job


class JobTimeout(PersonaError):
    """`wait_for_job` gave up before the job finished; `job` is its last state."""

    def __init__(self, job: Any, timeout_s: float) -> None:
        message = f"job {job.job_id} still {job.status} after {timeout_s:g} s"
        super().__init__(message, code="JOB_TIMEOUT")
        self.job = job


BY_STATUS: dict[int, type[PersonaError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: UnprocessableEntity,
    429: RateLimited,
    500: ServerError,
    503: Unavailable,
}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_for(response: httpx.Response) -> PersonaError:
    """The exception for an answer that is not a success, envelope or not."""
    code, message = f"HTTP_{response.status_code}", response.reason_phrase
    request_id = response.headers.get("x-request-id")
    try:
        body = json.loads(response.content)
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
        request_id = str(error.get("request_id") or request_id or "") or None
    except (ValueError, KeyError, TypeError):
        if response.content:
            message = response.text[:500]
    if response.status_code in BY_STATUS:
        kind = BY_STATUS[response.status_code]
    else:
        kind = ServerError if response.status_code >= 500 else PersonaError
    return kind(
        message,
        status=response.status_code,
        code=code,
        request_id=request_id,
        retry_after_s=retry_after(response),
    )

"""What a log line says it belongs to: the request, the job, the organization and the user.

One small record per unit of work (a request in the gateway, a task or a direct read in
a worker), held in a context variable: the gateway starts one per request
(`api_gateway.middleware.RequestContext`), adds what it learns (the caller's
organization, a job it publishes), and sends it with the work (a task's message
headers, a direct read's `HEADER`); the worker restores it for as long as it serves
that work. `pipeline.logs` adds its fields to every record.

Ids only, never user content: the user is their row id (`user_pk`), never the
`user_id` a client chose, and the organization is its row id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

FIELDS = ("request_id", "job_id", "org", "user_pk")
"""The fields every log line may carry, in the order they are shown."""
HEADER = "x-persona-context"
"""The HTTP header (direct reads) and the task header (the queue) that carry it."""

_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_INTS = frozenset({"org", "user_pk"})
_current: ContextVar[dict[str, str | int] | None] = ContextVar("persona_context", default=None)


def current() -> dict[str, str | int]:
    """A copy of the fields known now (empty outside any unit of work)."""
    return dict(_current.get() or {})


def bind(**fields: str | int | None) -> None:
    """Add `fields` to the current unit of work's record (None leaves a field as it is).

    The record is shared by every thread the unit of work hands a copy of its context
    to (FastAPI's thread pool, `anyio.to_thread`): what one learns, all see."""
    record = _current.get()
    if record is None:
        record = {}
        _current.set(record)
    record.update(_clean({k: v for k, v in fields.items() if v is not None}))


@contextmanager
def bound(fields: Mapping[str, Any] | None = None) -> Iterator[None]:
    """A fresh record for one unit of work, with `fields` (as decoded, unknown ones
    dropped), gone when it ends."""
    token = _current.set(_clean(fields or {}))
    try:
        yield
    finally:
        _current.reset(token)


def start(fields: Mapping[str, Any] | None = None) -> None:
    """Begin a fresh record (a task, where a signal begins it and another `clear`s it)."""
    _current.set(_clean(fields or {}))


def clear() -> None:
    _current.set(None)


def encode() -> str:
    """The current record as a header value (compact JSON of ids)."""
    return json.dumps(current(), separators=(",", ":"))


def decode(raw: str | bytes | Mapping[str, Any] | None) -> dict[str, str | int]:
    """A record sent by another process; whatever is not a well-formed id is dropped, so
    a header can never put text of its sender's choosing in a log line."""
    if raw is None:
        return {}
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return _clean(raw) if isinstance(raw, Mapping) else {}


def _clean(fields: Mapping[str, Any]) -> dict[str, str | int]:
    clean: dict[str, str | int] = {}
    for name in FIELDS:
        value = fields.get(name)
        if name in _INTS:
            if isinstance(value, int) and not isinstance(value, bool):
                clean[name] = value
        elif isinstance(value, str) and _ID.fullmatch(value):
            clean[name] = value
    return clean

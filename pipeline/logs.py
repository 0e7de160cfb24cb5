"""Logging set-up shared by every process: one line per record, as text for a person at a
terminal or as JSON for a log collector (`log_format`).

Every record carries the ids of the work it belongs to (`pipeline.context`): a request's
`request_id`, and where known its `job_id`, `org` and `user_pk`. The text format shows
the ones present at the end of the line; JSON has them as fields.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from pipeline import context

TEXT_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"


trace_ids: Callable[[], dict[str, str]] | None = None
"""Where traces are on (`pipeline.telemetry.setup` sets it): the current span's
`trace_id` and `span_id`, so a JSON line leads to its trace."""


class ContextFilter(logging.Filter):
    """Puts the current unit of work's ids on every record (a field the call passed in
    `extra` wins), and its trace's where traces are on."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = context.current() | (trace_ids() if trace_ids is not None else {})
        for name, value in ids.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """The human-readable line, with the ids it carries appended: `… [request_id=… org=3]`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{n}={getattr(record, n)}" for n in context.FIELDS if hasattr(record, n)]
        if not ids:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


JSON_FIELDS = frozenset(
    {"time", "level", "logger", "process", "message", "exc_info", "trace_id", "span_id"}
    | set(context.FIELDS)
)
"""What a JSON line may hold. Not a record's other `extra` fields: a library may put what
it was given there (Celery puts a task's arguments and result), and that is user content."""


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class IdsOnly(JsonFormatter):
        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in log_data.items() if k in JSON_FIELDS}

    return IdsOnly(
        "%(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601, UTC
    )


def use_json(log_format: str, stream: Any = None) -> bool:
    """`json`, `text`, or `auto`: text on a terminal, JSON otherwise (a file, a pipe,
    a container's log)."""
    if log_format == "auto":
        isatty = getattr(stream or sys.stderr, "isatty", None)
        return not (isatty is not None and isatty())
    return log_format == "json"


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    """Idempotent: the gateway factory and the CLI may both call it."""
    root = logging.getLogger()
    if getattr(root, "_persona_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if use_json(log_format) else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._persona_configured = True  # type: ignore[attr-defined]
    # uvicorn's own lines in the same format (its access log stays off: paths hold user ids)
    logging.getLogger("uvicorn").handlers.clear()
    logging.getLogger("uvicorn").propagate = True
    # One line per HTTP call of our own probes is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)

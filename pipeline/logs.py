"""Logging set-up shared by every process: one line per record, the process's name first."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: the gateway factory and the CLI may both call it."""
    root = logging.getLogger()
    if getattr(root, "_persona_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._persona_configured = True  # type: ignore[attr-defined]
    # One line per HTTP call of our own probes is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)

"""Backpressure on `/ingest`: refuse new work while the ingest backlog is too deep.

The depth is the length of the ingest queue in the broker (LLEN, O(1)): the
jobs accepted and not yet taken by a worker. That is exactly what a producer
outrunning the workers grows, in the store the design wants to keep from
filling up (Redis), and it costs the database nothing; a job whose message
was lost is not counted until the sweeper re-publishes it, which only makes
the bound a little late. Each gateway process reads it at most once per
`PERSONA_INGEST_BACKLOG_CHECK_S`, whatever its request rate.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from pipeline.config import IngestSettings
from pipeline.errors import RateLimited
from pipeline.messages import Queue

log = logging.getLogger("persona.gateway")


class BacklogGauge:
    """The ingest queue's depth, read from Redis at most once per `ttl_s`."""

    def __init__(self, client: redis.Redis, ttl_s: float, queue: str = Queue.INGEST.value) -> None:
        self.client, self.ttl_s, self.queue = client, ttl_s, queue
        self._read_at = -float("inf")
        self._depth = 0
        self._lock = threading.Lock()

    def depth(self) -> int:
        """The last reading; a Redis that does not answer leaves it as it was: ingestion
        is durable in PostgreSQL without Redis (the sweeper publishes what it missed),
        so a broker restart is no reason to refuse it."""
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl_s:
                self._read_at = time.monotonic()
                try:
                    self._depth = int(self.client.llen(self.queue))
                except redis.RedisError as exc:
                    log.warning("ingest backlog not read: %s", type(exc).__name__)
            return self._depth


def check_backlog(gauge: BacklogGauge, settings: IngestSettings) -> None:
    """RATE_LIMITED (429, Retry-After) while the backlog is above PERSONA_INGEST_MAX_BACKLOG."""
    depth = gauge.depth()
    if depth > settings.max_backlog:
        raise RateLimited(
            f"The ingest backlog is {depth} jobs, above the bound of {settings.max_backlog}; "
            f"retry in {settings.backlog_retry_after_s} s",
            retry_after_s=settings.backlog_retry_after_s,
        )

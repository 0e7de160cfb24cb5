"""Backpressure on `/ingest`: refuse new work while the ingest backlog is too deep.

The depth is the length of the ingest queue in the broker (LLEN, O(1)): the
messages accepted and not yet taken by a worker, each naming the jobs of one
group commit (`api_gateway.group_commit`: one request's alone when requests come
one at a time, a few dozen under a stream of them). That is what a producer
outrunning the workers grows, in the store the design wants to keep from
filling up (Redis), and it costs the database nothing; a job whose message
was lost is not counted until the sweeper re-publishes it, which only makes
the bound a little late. Each gateway process reads it at most once per
`PERSONA_INGEST_BACKLOG_CHECK_S`, whatever its request rate.
"""

from __future__ import annotations

import logging
import time

import redis
import redis.asyncio

from pipeline.config import IngestSettings
from pipeline.errors import RateLimited
from pipeline.messages import Queue

log = logging.getLogger("persona.gateway")


class BacklogGauge:
    """The ingest queue's depth, read from Redis (an asyncio client: no thread waits) at
    most once per `ttl_s`."""

    def __init__(
        self, client: redis.asyncio.Redis, ttl_s: float, queue: str = Queue.INGEST.value
    ) -> None:
        self.client, self.ttl_s, self.queue = client, ttl_s, queue
        self._read_at = -float("inf")
        self._depth = 0

    async def depth(self) -> int:
        """The last reading; a Redis that does not answer leaves it as it was: ingestion
        is durable in PostgreSQL without Redis (the sweeper publishes what it missed),
        so a broker restart is no reason to refuse it."""
        if time.monotonic() - self._read_at >= self.ttl_s:
            self._read_at = time.monotonic()  # the requests meanwhile take the last reading
            try:
                self._depth = int(await self.client.llen(self.queue))
            except redis.RedisError as exc:
                log.warning("ingest backlog not read: %s", type(exc).__name__)
        return self._depth


async def check_backlog(gauge: BacklogGauge, settings: IngestSettings) -> None:
    """RATE_LIMITED (429, Retry-After) while the backlog is above PERSONA_INGEST_MAX_BACKLOG."""
    depth = await gauge.depth()
    if depth > settings.max_backlog:
        raise RateLimited(
            f"The ingest backlog is {depth} messages, above the bound of "
            f"{settings.max_backlog}; retry in {settings.backlog_retry_after_s} s",
            retry_after_s=settings.backlog_retry_after_s,
        )

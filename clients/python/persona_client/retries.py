"""When a call is sent again, and after how long.

Only answers that say "later" are retried: 429 (the organization's rate limit,
or the ingest backlog) and 503 (a store or the workers did not answer in time).
Any other 4xx is the caller's to fix, and a 500 may have done part of its work,
so neither is sent again. The wait is the server's `Retry-After` when it gives
one (never less), else an exponential backoff with full jitter, so that many
clients refused together do not come back together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from persona_client.errors import retry_after


@dataclass(frozen=True)
class Retries:
    """How a client retries: `attempts` in all (1: never retry), waits between
    `backoff_s` and `max_backoff_s` without a Retry-After, and a Retry-After longer
    than `max_wait_s` raises at once instead of blocking the caller that long."""

    attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_wait_s: float = 60.0
    statuses: frozenset[int] = frozenset({429, 503})

    def delay(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: do not retry."""
        if response.status_code not in self.statuses or attempt >= self.attempts:
            return None
        asked = retry_after(response)
        if asked is not None:
            if asked > self.max_wait_s:
                return None
            # at least what the server asked, spread by up to a tenth of it
            return asked + random.uniform(0, asked / 10)
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


NEVER = Retries(attempts=1)
"""A policy that sends every call once."""

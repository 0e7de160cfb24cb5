"""One summary refresh per burst of ingestion, decided in Redis.

Every ingest job that succeeds for a user calls `note`: it moves the user's
*due* time to now + quiet period, and, only if no check is pending for that
user, reports that one delayed check should be scheduled. The check (`claim`)
finds either that the due time moved on (a later job came in: check again at
the new due time), or that the quiet period has passed, and then atomically
takes the due mark, so exactly one check wins and refreshes. A burst of a
thousand jobs therefore schedules one check chain and one refresh.

Both steps are Lua scripts, atomic in Redis, on Redis's own clock (so workers
on several machines agree on time). Keys live under the user's prefix and
expire, so a lost check (a worker killed with its delayed message) never blocks
later refreshes for longer than their lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from pipeline import keyspace

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: due, pending; ARGV: quiet_ms, ttl_ms. Returns 1 when a check must be scheduled.
NOTE = (
    _NOW
    + """
redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', ARGV[2])
if redis.call('SET', KEYS[2], now, 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
)

# KEYS: due, pending; ARGV: ttl_ms. Returns -1: nothing due; 0: claimed; n > 0: wait n ms.
CLAIM = (
    _NOW
    + """
local due = redis.call('GET', KEYS[1])
if not due then return -1 end
local wait = tonumber(due) - now
if wait > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  return wait
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
"""
)


def due_key(user_pk: int) -> str:
    return keyspace.user_key(user_pk, "summary-due")


def pending_key(user_pk: int) -> str:
    return keyspace.user_key(user_pk, "summary-check")


def _ttl_ms(quiet_s: float) -> int:
    return int(max(3600.0, 20 * quiet_s) * 1000)


def note(cache: redis.Redis, user_pk: int, quiet_s: float) -> bool:
    """Record that new data landed for the user; True when a check must be scheduled
    (in `quiet_s`), False when one is already pending and will see the new due time."""
    keys = [due_key(user_pk), pending_key(user_pk)]
    args = [int(quiet_s * 1000), _ttl_ms(quiet_s)]
    return bool(cache.eval(NOTE, 2, *keys, *args))


@dataclass(frozen=True)
class Claim:
    claimed: bool  # this check won: refresh now
    wait_s: float | None  # not yet quiet: check again in this many seconds


def claim(cache: redis.Redis, user_pk: int, quiet_s: float) -> Claim:
    """The delayed check: claim the refresh if the user's ingestion has been quiet for
    the whole period, else say how long to wait; nothing to do if already claimed."""
    keys = [due_key(user_pk), pending_key(user_pk)]
    result = int(cache.eval(CLAIM, 2, *keys, _ttl_ms(quiet_s)))
    if result > 0:
        return Claim(False, result / 1000)
    return Claim(result == 0, None)

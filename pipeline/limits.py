"""Rate limits and plan quotas per organization.

The rate limit is a token bucket per organization kept in Redis and updated by
one Lua script, so any number of gateway processes share it without a race:
the script refills by the time elapsed (Redis's own clock, the same for every
gateway), takes a token if there is one, and says when the bucket is full
again. An organization's columns override the defaults of the settings.

An organization with a plan may have quotas per calendar month (UTC): turns
(authenticated requests admitted) and active end users. Turns are counted in
the same script; active users are counted in PostgreSQL and the count is
reused for a few seconds by each process.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import redis.asyncio
from cachetools import TTLCache
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pipeline import keyspace
from pipeline.config import RateLimitSettings
from pipeline.db.engine import session_scope
from pipeline.db.models import Organization, User
from pipeline.errors import InvalidInput, NotFound
from pipeline.status import UserStatus

# KEYS[1]: the bucket (a hash); KEYS[2], optional: the period's turn counter.
# ARGV: refill per second, burst, cost, seconds the turn counter is kept.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
local full_in = (burst - tokens) / rate
redis.call('PEXPIRE', KEYS[1], math.ceil(full_in * 1000) + 1000)
local retry_in = 0
if allowed == 0 then
  retry_in = (cost - tokens) / rate
end
local turns = -1
if #KEYS > 1 then
  if allowed == 1 then
    turns = redis.call('INCR', KEYS[2])
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
  else
    turns = tonumber(redis.call('GET', KEYS[2]) or '0')
  end
end
return {allowed, tostring(tokens), tostring(full_in), tostring(retry_in), tostring(now), turns}
"""


@dataclass(frozen=True)
class OrgLimits:
    per_s: float
    burst: int
    plan: str | None = None
    quota_turns: int | None = None
    quota_users: int | None = None

    @property
    def has_quotas(self) -> bool:
        return self.quota_turns is not None or self.quota_users is not None


@dataclass(frozen=True)
class Decision:
    """The bucket after one request: whether it was admitted, and what to tell the caller."""

    allowed: bool
    limit: float
    remaining: int
    full_at: datetime  # when the bucket is full again
    retry_after_s: int  # 0 when admitted
    now: datetime
    turns: int | None = None  # turns used this period, when the plan counts them


@dataclass(frozen=True)
class Quota:
    turns_used: int | None
    turns_limit: int | None
    users_active: int | None
    users_limit: int | None
    resets_at: datetime


LIMIT_COLUMNS = (
    Organization.rate_limit_per_s,
    Organization.rate_limit_burst,
    Organization.plan,
    Organization.quota_turns,
    Organization.quota_users,
)
"""An organization's own limits, as `org_limits` reads them and `set_org_limits` shows them."""


def org_limits(session: Session, org_id: int, defaults: RateLimitSettings) -> OrgLimits:
    """The organization's limits: its own columns, else the settings' defaults."""
    row = session.execute(select(*LIMIT_COLUMNS).where(Organization.id == org_id)).one()
    return OrgLimits(
        per_s=row.rate_limit_per_s or defaults.per_s,
        burst=row.rate_limit_burst or defaults.burst,
        plan=row.plan,
        quota_turns=row.quota_turns,
        quota_users=row.quota_users,
    )


def period_bounds(now: datetime) -> tuple[str, datetime]:
    """The quota period containing `now`: its key (YYYY-MM) and when the next one starts."""
    start_next = (
        datetime(now.year + 1, 1, 1, tzinfo=UTC)
        if now.month == 12
        else datetime(now.year, now.month + 1, 1, tzinfo=UTC)
    )
    return f"{now.year:04d}-{now.month:02d}", start_next


class TokenBucket:
    """Takes tokens from an organization's bucket; one Redis round trip per request,
    awaited (an asyncio client): the gateway's event loop asks, no thread waits."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._script = client.register_script(BUCKET_SCRIPT)

    async def take(self, org_id: int, limits: OrgLimits, cost: int = 1) -> Decision:
        keys = [keyspace.org_key(org_id, "ratelimit")]
        if limits.quota_turns is not None:
            period, _ = period_bounds(datetime.now(UTC))
            keys.append(keyspace.org_key(org_id, "turns", period))
        return await self._take(keys, limits, cost)

    async def take_anonymous(self, address: str, limits: RateLimitSettings) -> Decision:
        """A token from the bucket of a client address whose requests carry no valid key:
        they are refused anyway, but each costs a key look-up, so they are bounded too."""
        bucket = OrgLimits(per_s=limits.anonymous_per_s, burst=limits.anonymous_burst)
        return await self._take([keyspace.address_key(address)], bucket, 1)

    async def _take(self, keys: list[str], limits: OrgLimits, cost: int) -> Decision:
        keep_s = 40 * 86400  # a month and some: the counter outlives its period a little
        raw = await self._script(keys=keys, args=[limits.per_s, limits.burst, cost, keep_s])
        allowed, tokens, full_in, retry_in, now_s, turns = raw
        now = datetime.fromtimestamp(float(now_s), UTC)
        return Decision(
            allowed=bool(allowed),
            limit=limits.per_s,
            remaining=max(0, math.floor(float(tokens))),
            full_at=datetime.fromtimestamp(math.ceil(float(now_s) + float(full_in)), UTC),
            retry_after_s=0 if allowed else max(1, math.ceil(float(retry_in))),
            now=now,
            turns=int(turns) if int(turns) >= 0 else None,
        )


class ActiveUsers:
    """Active end users per organization, counted in PostgreSQL and reused for `ttl_s`
    by this process: a quota header must not cost a count on every request."""

    def __init__(self, engine: Engine, ttl_s: float = 5.0) -> None:
        self._engine = engine
        self._counts: TTLCache[int, int] = TTLCache(maxsize=10_000, ttl=ttl_s)
        self._lock = threading.Lock()  # TTLCache is not thread-safe; handlers run in threads

    def count(self, org_id: int) -> int:
        with self._lock:
            known = self._counts.get(org_id)
        if known is not None:
            return known
        with session_scope(self._engine) as session:
            value = session.execute(
                select(func.count())
                .select_from(User)
                .where(User.org_id == org_id, User.status == UserStatus.ACTIVE)
            ).scalar_one()
        with self._lock:
            self._counts[org_id] = value
        return value


def quota(decision: Decision, limits: OrgLimits, users_active: int | None) -> Quota:
    _, resets_at = period_bounds(decision.now)
    return Quota(
        turns_used=decision.turns,
        turns_limit=limits.quota_turns,
        users_active=users_active,
        users_limit=limits.quota_users,
        resets_at=resets_at,
    )


def set_org_limits(session: Session, org: str, **values: object) -> dict[str, object]:
    """Change an organization's limits (`persona orgs limits`); a value of None clears
    it back to the default. Returns the organization's limits as stored."""
    allowed = {"rate_limit_per_s", "rate_limit_burst", "plan", "quota_turns", "quota_users"}
    unknown = set(values) - allowed
    if unknown:
        raise InvalidInput(f"Unknown limit(s): {', '.join(sorted(unknown))}")
    for name, value in values.items():
        if isinstance(value, int | float) and value <= 0:
            raise InvalidInput(f"{name} must be positive, got {value}")
    if values:
        session.execute(update(Organization).where(Organization.name == org).values(values))
    row = session.execute(select(*LIMIT_COLUMNS).where(Organization.name == org)).one_or_none()
    if row is None:
        raise NotFound(f"No organization named {org!r}")
    return dict(row._mapping)

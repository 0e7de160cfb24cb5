"""Rate limits at the gateway: admit a request against its organization's bucket, and
put the bucket's state in the headers of whatever response follows, errors included.

`admit` runs in the authentication dependency, once the organization is known, and
leaves the headers in the request's state under `STATE_KEY`; the outermost
middleware (`middleware.RequestContext`) stamps them on every response of an
authenticated request, the 500 rendered for an unexpected error too.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from pipeline import limits
from pipeline.config import RateLimitSettings
from pipeline.errors import RateLimited

log = logging.getLogger("persona.gateway")
STATE_KEY = "limit_headers"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def headers_for(decision: limits.Decision, quota: limits.Quota | None) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": _number(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": iso(decision.full_at),
    }
    if quota is not None:
        if quota.turns_limit is not None:
            headers["X-Quota-Turns-Used"] = str(quota.turns_used or 0)
            headers["X-Quota-Turns-Limit"] = str(quota.turns_limit)
        if quota.users_limit is not None:
            headers["X-Quota-Relationships-Active"] = str(quota.users_active or 0)
            headers["X-Quota-Relationships-Limit"] = str(quota.users_limit)
        headers["X-Quota-Reset"] = iso(quota.resets_at)
    return headers


async def admit(
    request: Request,
    bucket: limits.TokenBucket,
    active: limits.ActiveUsers,
    org_id: int,
    org: limits.OrgLimits,
) -> None:
    """Take a token for the caller's organization; RATE_LIMITED (429, Retry-After) when
    none is left. The headers go into the request's state, under `STATE_KEY`.

    Redis unreachable: the request is admitted without headers (logged), since
    refusing every request for a missing counter would be the larger outage."""
    try:
        decision = await bucket.take(org_id, org)
    except redis.RedisError as exc:
        log.warning("rate limit not applied: %s", exc)
        return
    quota = None
    if org.has_quotas:
        users = None
        if org.quota_users is not None:  # counted in PostgreSQL once in a while
            users = await run_in_threadpool(active.count, org_id)
        quota = limits.quota(decision, org, users)
    setattr(request.state, STATE_KEY, headers_for(decision, quota))
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {_number(decision.limit)} requests per second (burst "
            f"{org.burst}) exceeded; retry in {decision.retry_after_s} s",
            retry_after_s=decision.retry_after_s,
        )


async def admit_anonymous(
    request: Request, bucket: limits.TokenBucket, settings: RateLimitSettings
) -> None:
    """A request without a valid key is answered 401, unless its client address has sent
    more than its bucket allows: then 429, with Retry-After. Redis unreachable: 401."""
    address = request.client.host if request.client else "unknown"
    try:
        decision = await bucket.take_anonymous(address, settings)
    except redis.RedisError as exc:
        log.warning("anonymous rate limit not applied: %s", exc)
        return
    if not decision.allowed:
        raise RateLimited(
            f"Too many requests without a valid API key from this address; retry in "
            f"{decision.retry_after_s} s",
            retry_after_s=decision.retry_after_s,
        )

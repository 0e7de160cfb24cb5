"""Every Redis key Persona writes (for a user, an organization, a worker), named in one
place, and how a process connects to that Redis.

A user's keys all start with `user_prefix(user_pk)`: the erasure deletes the
user's Redis data by that prefix alone, so a key written anywhere else would
outlive it. Build keys with `user_key` and the prefix is right by construction.
Broker queues and Celery's own keys are not here: Celery names them.
"""

from __future__ import annotations

import redis
import redis.asyncio

ROOT = "persona"
TIMEOUT_S = 3
"""A Redis that does not answer within this is down: callers answer 503, never hang."""


def connect(url: str) -> redis.Redis:
    """A client for caches and per-user keys (the broker has Celery's own connection)."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S, health_check_interval=30
    )


def connect_async(url: str) -> redis.asyncio.Redis:
    """`connect`, for an asyncio event loop (the gateway's per-request rate limit)."""
    return redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S, health_check_interval=30
    )


def user_prefix(user_pk: int) -> str:
    """`persona:user:{user_pk}:`, the start of every key holding the user's data."""
    return f"{ROOT}:user:{user_pk}:"


def user_key(user_pk: int, *parts: str) -> str:
    """A key of the user's, under `user_prefix` (so an erasure finds it)."""
    return user_prefix(user_pk) + ":".join(parts)


def user_pattern(user_pk: int) -> str:
    """A SCAN pattern matching every key of the user."""
    return user_prefix(user_pk) + "*"


def worker_key(worker: str) -> str:
    """A worker process's heartbeat (`pipeline.heartbeat`)."""
    return f"{ROOT}:worker:{worker}"


def address_key(address: str) -> str:
    """The rate-limit bucket of a client address sending no valid key."""
    return f"{ROOT}:address:{address}:ratelimit"


def maintenance_key(*parts: str) -> str:
    """A key of the installation's own upkeep (the scheduled verify's cursor)."""
    return f"{ROOT}:maintenance:" + ":".join(parts)


def org_key(org_id: int, *parts: str) -> str:
    """A key of the organization's (its rate-limit bucket, its turns this month)."""
    return f"{ROOT}:org:{org_id}:" + ":".join(parts)

"""Every Redis key Persona writes for a user or an organization, named in one place.

A user's keys all start with `user_prefix(user_pk)`: the erasure deletes the
user's Redis data by that prefix alone, so a key written anywhere else would
outlive it. Build keys with `user_key` and the prefix is right by construction.
Broker queues and Celery's own keys are not here: Celery names them.
"""

from __future__ import annotations

ROOT = "persona"


def user_prefix(user_pk: int) -> str:
    """`persona:user:{user_pk}:`, the start of every key holding the user's data."""
    return f"{ROOT}:user:{user_pk}:"


def user_key(user_pk: int, *parts: str) -> str:
    """A key of the user's, under `user_prefix` (so an erasure finds it)."""
    return user_prefix(user_pk) + ":".join(parts)


def user_pattern(user_pk: int) -> str:
    """A SCAN pattern matching every key of the user."""
    return user_prefix(user_pk) + "*"


def org_key(org_id: int, *parts: str) -> str:
    """A key of the organization's (its rate-limit bucket, its turns this month)."""
    return f"{ROOT}:org:{org_id}:" + ":".join(parts)

"""End users: one row per (organization, user_id), shared by `/register` and `/v1/end-users`.

Creation is race-free (INSERT ... ON CONFLICT DO NOTHING, then a row lock), so
two producers registering the same user at once converge on one row, and every
write re-checks `status` under that lock so a deletion in progress always wins.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline.db.models import User
from pipeline.errors import UserDeleting, UserNotFound


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` into a copy of `base`: objects merge key by key, recursively;
    lists, scalars and nulls replace; keys absent from `patch` stay as they were."""
    merged = deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = deepcopy(value)
    return merged


@dataclass(frozen=True)
class Upserted:
    user: User
    created: bool


def _lock(session: Session, org_id: int, user_id: str) -> User | None:
    return session.execute(
        select(User).where(User.org_id == org_id, User.user_id == user_id).with_for_update()
    ).scalar_one_or_none()


def get_or_create(
    session: Session,
    org_id: int,
    user_id: str,
    traits: dict[str, Any] | None = None,
    purpose: str | None = None,
) -> Upserted:
    """The user row, locked for this transaction; created with `traits` if it was missing.

    An erasure may delete the row between the insert (which found it) and the lock:
    then the insert runs again and creates the user afresh."""
    while True:
        new_id = session.execute(
            insert(User)
            .values(org_id=org_id, user_id=user_id, traits=traits or {}, purpose=purpose)
            .on_conflict_do_nothing(constraint="uq_users_org_user")
            .returning(User.id)
        ).scalar_one_or_none()
        user = _lock(session, org_id, user_id)
        if user is not None:
            return Upserted(user=user, created=new_id is not None)


def register(
    session: Session,
    org_id: int,
    user_id: str,
    traits: dict[str, Any] | None,
    purpose: str | None,
) -> Upserted:
    """Create the user or deep-merge `traits` into it; `purpose` replaces when given."""
    result = get_or_create(session, org_id, user_id, traits, purpose)
    user = result.user
    if user.status == "deleting":
        raise UserDeleting(user_id)
    if not result.created:
        update(session, user, traits, purpose)
    return result


def update(
    session: Session, user: User, traits: dict[str, Any] | None, purpose: str | None
) -> User:
    if traits:
        user.traits = deep_merge(user.traits, traits)
    if purpose is not None:
        user.purpose = purpose
    user.updated_at = session.execute(select(func.now())).scalar_one()
    session.flush()
    return user


def create_if_absent(
    session: Session, org_id: int, user_id: str, traits: dict[str, Any] | None
) -> Upserted:
    """Seed 003's POST: a new user is created; an existing one is returned unchanged."""
    result = get_or_create(session, org_id, user_id, traits)
    if result.user.status == "deleting":
        raise UserDeleting(user_id)
    return result


def pk(session: Session | Connection, org_id: int, user_id: str) -> int:
    """The user's key alone, for reads that need nothing else of the row (a search)."""
    found = session.execute(
        select(User.id).where(User.org_id == org_id, User.user_id == user_id)
    ).scalar_one_or_none()
    if found is None:
        raise UserNotFound(user_id)
    return found


def get(session: Session, org_id: int, user_id: str) -> User:
    user = session.execute(
        select(User).where(User.org_id == org_id, User.user_id == user_id)
    ).scalar_one_or_none()
    if user is None:
        raise UserNotFound(user_id)
    return user


def patch(
    session: Session,
    org_id: int,
    user_id: str,
    traits: dict[str, Any] | None,
    purpose: str | None = None,
) -> User:
    """Merge into an existing user, like `/register` but without creating one."""
    user = _lock(session, org_id, user_id)
    if user is None:
        raise UserNotFound(user_id)
    if user.status == "deleting":
        raise UserDeleting(user_id)
    return update(session, user, traits, purpose)

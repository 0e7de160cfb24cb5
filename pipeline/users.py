"""End users: one row per (organization, user_id), shared by `/register` and `/v1/end-users`,
and the two locks that order everything done to a user.

- The row lock (`SELECT ... FOR UPDATE`) is taken by every request that writes
  the user row: registering, accepting items, asking for deletion. Creation is
  race-free (INSERT ... ON CONFLICT DO NOTHING, then the row lock), so two
  producers registering the same user at once converge on one row, and each
  write re-checks `status` under the lock, so a deletion in progress wins.
- The write lock (`lock_writes`, a transaction-level advisory lock on the
  user's row id) is taken by every write of what is derived from the user's
  items (index points and chunk rows, summaries, refresh marks) and by the
  erasure. It outlives the row: an erasure deletes the row under it, and a
  writer that then gets it finds the user gone and writes nothing.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import fields
from pipeline.db.models import User
from pipeline.errors import InvalidInput, UserDeleting, UserNotFound
from pipeline.status import UserStatus

WRITE_LOCK_SPACE = 1
"""The two-int advisory lock space of the write lock (the one-bigint space is separate)."""


def _write_lock(user_pk: int) -> dict[str, int]:
    return {"space": WRITE_LOCK_SPACE, "key": user_pk % 2**31}


def lock_writes(session: Session, user_pk: int) -> None:
    """Serialise this transaction with every other write of the user's derived data and
    with an erasure, until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), _write_lock(user_pk))


def hold(session: Session, user_pk: int, *, wait: bool = True) -> bool:
    """Take the user's write lock for this transaction (or try to, without waiting) and
    say whether the user is still active: only then may their data be written."""
    if wait:
        lock_writes(session, user_pk)
    elif not session.execute(
        text("SELECT pg_try_advisory_xact_lock(:space, :key)"), _write_lock(user_pk)
    ).scalar():
        return False
    status = session.execute(select(User.status).where(User.id == user_pk)).scalar()
    return status == UserStatus.ACTIVE


def _of(org_id: int, user_id: str) -> Select[User]:
    return select(User).where(User.org_id == org_id, User.user_id == user_id)


def find(session: Session, org_id: int, user_id: str, *, lock: bool = False) -> User:
    """The user row (with its row lock for this transaction when `lock`); USER_NOT_FOUND
    for an id this organization never registered or that was erased."""
    query = _of(org_id, user_id).with_for_update() if lock else _of(org_id, user_id)
    user = session.execute(query).scalar_one_or_none()
    if user is None:
        raise UserNotFound(user_id)
    return user


def pk(session: Session | Connection, org_id: int, user_id: str) -> int:
    """The user's row id alone, for reads that need nothing else of the row (a search)."""
    found = session.execute(
        select(User.id).where(User.org_id == org_id, User.user_id == user_id)
    ).scalar_one_or_none()
    if found is None:
        raise UserNotFound(user_id)
    return found


def writable(user: User) -> User:
    """The user, unless it is being deleted (USER_DELETING): writes wait for the erasure."""
    if user.status == UserStatus.DELETING:
        raise UserDeleting(user.user_id)
    return user


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
        user = session.execute(_of(org_id, user_id).with_for_update()).scalar_one_or_none()
        if user is not None:
            return Upserted(user=user, created=new_id is not None)


def get_or_create_many(
    session: Session, wanted: list[tuple[int, str]]
) -> dict[tuple[int, str], Row[tuple[int, int, str, str]]]:
    """`get_or_create` for several users, by (organization, user id), in two statements:
    the missing ones inserted, then all locked, each in that one order, so that two
    transactions taking overlapping sets of users never wait on each other in a cycle.
    The lock is shared (FOR SHARE): writers of items under the same users go on side by
    side, and an erasure, which updates the row, waits for them and then wins. Each user
    as a row of its id, organization, user id and status."""
    keys = sorted(set(wanted))
    found: dict[tuple[int, str], Row[tuple[int, int, str, str]]] = {}
    while missing := [key for key in keys if key not in found]:
        session.execute(
            insert(User).on_conflict_do_nothing(constraint="uq_users_org_user"),
            [{"org_id": org, "user_id": user_id, "traits": {}} for org, user_id in missing],
        )
        rows = session.execute(
            select(User.id, User.org_id, User.user_id, User.status)
            .where(tuple_(User.org_id, User.user_id).in_(missing))
            .order_by(User.org_id, User.user_id)
            .with_for_update(read=True)
        )
        found.update({(row.org_id, row.user_id): row for row in rows})
    return found


def register(
    session: Session,
    org_id: int,
    user_id: str,
    traits: dict[str, Any] | None,
    purpose: str | None,
) -> Upserted:
    """Create the user or deep-merge `traits` into it; `purpose` replaces when given."""
    result = get_or_create(session, org_id, user_id, traits, purpose)
    user = writable(result.user)
    if not result.created:
        update(session, user, traits, purpose)
    return result


def update(
    session: Session, user: User, traits: dict[str, Any] | None, purpose: str | None
) -> User:
    """Merge `traits` in (INVALID_REQUEST if the merged traits outgrow the limit of one
    object) and replace `purpose` when given."""
    if traits:
        merged = deep_merge(user.traits, traits)
        try:
            fields.json_object(merged)
        except ValueError as exc:
            raise InvalidInput(f"traits after the merge: {exc}") from None
        user.traits = merged
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
    writable(result.user)
    return result


def patch(
    session: Session,
    org_id: int,
    user_id: str,
    traits: dict[str, Any] | None,
    purpose: str | None = None,
) -> User:
    """Merge into an existing user, like `/register` but without creating one."""
    user = writable(find(session, org_id, user_id, lock=True))
    return update(session, user, traits, purpose)

"""Users in the system of record: deep merge, race-free creation, deletion wins."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import keys, users
from pipeline.db.engine import session_scope
from pipeline.db.models import User
from pipeline.errors import UserDeleting, UserNotFound
from tests.conftest import set_user_status


def test_deep_merge_rules() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}, "l": [1, 2], "s": "x", "keep": True}
    patch = {"a": {"c": {"e": 3}}, "l": [9], "s": None, "new": {"k": 1}}
    assert users.deep_merge(base, patch) == {
        "a": {"b": 1, "c": {"d": 2, "e": 3}},
        "l": [9],
        "s": None,
        "keep": True,
        "new": {"k": 1},
    }
    assert base["a"]["c"] == {"d": 2}, "the input is not mutated"


def test_object_replaces_scalar_and_back() -> None:
    assert users.deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert users.deep_merge({"a": {"b": 2}}, {"a": 1}) == {"a": 1}


def test_register_creates_then_merges(db: Session) -> None:
    org = keys.ensure_org(db, "users-test")
    first = users.register(db, org, "u", {"a": {"x": 1}}, "p1")
    assert first.created
    second = users.register(db, org, "u", {"a": {"y": 2}}, None)
    assert not second.created
    assert second.user.traits == {"a": {"x": 1, "y": 2}}
    assert second.user.purpose == "p1"


def test_get_and_patch_unknown_user(db: Session) -> None:
    org = keys.ensure_org(db, "users-test-2")
    with pytest.raises(UserNotFound):
        users.find(db, org, "ghost")
    with pytest.raises(UserNotFound):
        users.patch(db, org, "ghost", {"a": 1})


def test_deleting_user_refuses_every_write(db: Session) -> None:
    org = keys.ensure_org(db, "users-test-3")
    users.register(db, org, "d", {}, None).user.status = "deleting"
    db.flush()
    for write in (
        lambda: users.register(db, org, "d", {"a": 1}, None),
        lambda: users.create_if_absent(db, org, "d", None),
        lambda: users.patch(db, org, "d", {"a": 1}),
    ):
        with pytest.raises(UserDeleting):
            write()


def test_concurrent_registrations_converge_on_one_row(engine) -> None:
    with session_scope(engine) as session:
        org = keys.ensure_org(session, "users-race")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            barrier.wait()
            with session_scope(engine) as session:
                users.register(session, org, "racer", {f"k{i}": i}, None)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as session:
        rows = session.execute(
            select(func.count()).where(User.org_id == org, User.user_id == "racer")
        ).scalar_one()
        traits = users.find(session, org, "racer").traits
    assert rows == 1
    assert traits == {f"k{i}": i for i in range(8)}, "no merge was lost to a race"


def test_the_write_lock_is_one_per_user_and_only_an_active_user_may_be_written(engine) -> None:
    """What indexing, summaries and the erasure each take before writing a user's data."""
    org = f"org-{uuid.uuid4().hex[:12]}"
    with session_scope(engine) as session:
        pk = users.get_or_create(session, keys.ensure_org(session, org), "u").user.id
        other = users.get_or_create(session, keys.ensure_org(session, org), "v").user.id

    with engine.connect() as conn, conn.begin():  # an indexing write or an erasure, running
        users.lock_writes(Session(bind=conn), pk)
        with session_scope(engine) as session:
            assert users.hold(session, pk, wait=False) is False
        with session_scope(engine) as session:
            assert users.hold(session, other, wait=False) is True, "another user is free"
    with session_scope(engine) as session:
        assert users.hold(session, pk, wait=False) is True
        assert users.hold(session, pk) is True

    set_user_status(engine, org, "u", "deleting")
    with session_scope(engine) as session:
        assert users.hold(session, pk) is False

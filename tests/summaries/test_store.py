"""Summary writes share the user's write lock with indexing and erasure."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from pipeline import indexing, keys, users
from pipeline.db.engine import session_scope
from pipeline.summaries import store
from tests.conftest import set_user_status


def test_summaries_write_only_under_the_users_lock_and_only_for_an_active_user(engine) -> None:
    assert store.USER_LOCK_SPACE == indexing.USER_LOCK_SPACE
    org = f"org-{uuid.uuid4().hex[:12]}"
    with session_scope(engine) as session:
        pk = users.get_or_create(session, keys.ensure_org(session, org), "u").user.id

    with engine.connect() as conn, conn.begin():  # an indexing write or an erasure, running
        indexing.lock_user(Session(bind=conn), pk)
        with session_scope(engine) as session:
            assert store.hold_user(session, pk, wait=False) is False
    with session_scope(engine) as session:
        assert store.hold_user(session, pk, wait=False) is True
        assert store.hold_user(session, pk, wait=True) is True

    set_user_status(engine, org, "u", "deleting")
    with session_scope(engine) as session:
        assert store.hold_user(session, pk, wait=True) is False

"""Erasure in PostgreSQL: every table with a `user_pk`, including ones added later, one
user only, and never while an indexing write for the user holds its lock."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pipeline import keys, users
from pipeline.db.engine import session_scope
from pipeline.erasure import request, run
from pipeline.erasure.footprint import count_rows, user_tables
from pipeline.errors import UserNotFound
from tests.helpers import wait_for


def test_every_table_with_a_user_pk_is_erased_for_that_user_only(db: Session) -> None:
    org = keys.ensure_org(db, f"erase-{uuid.uuid4().hex[:8]}")
    gone = users.register(db, org, "gone", {}, None).user.id
    kept = users.register(db, org, "kept", {}, None).user.id
    # A table a later release adds, whose foreign key has no cascade: erasure finds it in
    # the catalog and empties it before the user row it points to.
    db.execute(
        text(
            "CREATE TABLE later_summaries (id serial PRIMARY KEY, "
            "user_pk bigint NOT NULL REFERENCES users(id), body text)"
        )
    )
    db.execute(
        text("INSERT INTO later_summaries (user_pk, body) VALUES (:g, 'a'), (:g, 'b'), (:k, 'c')"),
        {"g": gone, "k": kept},
    )
    assert "later_summaries" in user_tables(db)
    assert "jobs" not in user_tables(db)
    chunks_first = user_tables(db)
    assert chunks_first.index("chunks") < chunks_first.index("items")

    removed = run.erase_rows(db, gone)
    assert removed["later_summaries"] == 2
    assert count_rows(db, gone)["users"] == 1, "the user row stays until the job ends"
    assert run.forget_user(db, gone) == 1
    assert set(count_rows(db, gone).values()) == {0}
    assert count_rows(db, kept)["later_summaries"] == 1
    assert count_rows(db, kept)["users"] == 1


def test_deletion_request_is_idempotent_while_it_runs(db: Session) -> None:
    org = keys.ensure_org(db, f"erase-{uuid.uuid4().hex[:8]}")
    users.register(db, org, "u", {}, None)
    first = request.request_deletion(db, org, "u")
    again = request.request_deletion(db, org, "u")
    assert first.new
    assert not again.new
    assert again.job_id == first.job_id
    assert users.find(db, org, "u").status == "deleting"
    with pytest.raises(UserNotFound):
        request.request_deletion(db, org, "nobody")


def waiting_for_the_write_lock(engine: Engine) -> int:
    """Sessions blocked on a user's write lock (an advisory lock in its two-int space)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = :space"
            ),
            {"space": users.WRITE_LOCK_SPACE},
        ).scalar_one()


def test_erasure_waits_for_an_indexing_write_in_progress(engine) -> None:
    with session_scope(engine) as session:
        org = keys.ensure_org(session, f"erase-{uuid.uuid4().hex[:8]}")
        pk = users.register(session, org, "locked", {}, None).user.id
    done = threading.Event()

    def erase() -> None:
        with session_scope(engine) as session:
            run.erase_rows(session, pk)
            run.forget_user(session, pk)
        done.set()

    with session_scope(engine) as writer:
        users.lock_writes(writer, pk)  # an indexing job's write step, mid-way
        thread = threading.Thread(target=erase)
        thread.start()
        wait_for(lambda: waiting_for_the_write_lock(engine) > 0, what="the erasure to queue")
        assert not done.is_set(), "the erasure ran while a write held the user's lock"
    thread.join(timeout=10)
    assert done.is_set()
    with session_scope(engine) as session:
        assert count_rows(session, pk)["users"] == 0

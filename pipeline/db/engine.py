"""Engines and session scopes.

The boundary owns the session: a request dependency or a task opens one scope,
which commits when the work returns and rolls back when it raises. Domain
functions take a `Session` and never commit, so one request is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("persona.db")


CONNECT_TIMEOUT_S = 3
"""A server that does not accept within this is down: callers answer 503, never hang."""


@lru_cache(maxsize=8)
def get_engine(url: str, pool_size: int = 10) -> Engine:
    """One pooled engine per URL and process (why: connections are the costly part).

    Connections are checked before use (a restarted server is reconnected to, not
    failed on), and statement parameters are kept out of error messages: they hold
    user content, and errors reach the logs."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=10,
        hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


@lru_cache(maxsize=8)
def _factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run `action` once the scope's transaction has committed, never before and never
    on rollback: how a job is published only after the rows it names are durable."""
    session.info.setdefault("after_commit", []).append(action)


@contextmanager
def read_scope(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no transaction (a search): each statement runs
    on its own (autocommit), which spares a session's BEGIN and COMMIT round trips."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction that commits on success and rolls back on any exception.

    After the commit it runs the `after_commit` actions; one that fails is
    logged, not raised: what it does must be recoverable (the outbox sweeper
    re-publishes a job whose message was never sent).
    """
    session = _factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        actions = session.info.pop("after_commit", [])
        session.close()
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("an after-commit action failed; the sweeper will recover it")

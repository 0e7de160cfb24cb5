"""Sending tasks by name: the gateway produces messages but never imports `workers`.

A route gets the `Dispatcher` through the `DispatchDep` dependency: `publish`
sends a job's message only once the request's transaction has committed (the
outbox: a crash before the commit publishes nothing, one after it leaves the
sweeper to re-send), and `call` runs a read on a worker and waits for its reply.
Every task answers in one format (`pipeline.messages.ok_reply`/`error_reply`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import Celery
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from sqlalchemy.orm import Session

from pipeline.config import Settings
from pipeline.db.engine import after_commit
from pipeline.errors import Unavailable
from pipeline.messages import Message, Task, celery_config, unwrap_reply


def create_producer(settings: Settings) -> Celery:
    app = Celery("persona-gateway")
    app.conf.update(celery_config(settings))
    return app


def send(producer: Celery, task: Task, message: Message) -> str:
    """Publish `message` to the queue routed for `task`; returns the task id."""
    return producer.send_task(task, kwargs=message.model_dump(mode="json")).id


def call(producer: Celery, task: Task, message: Message, timeout_s: float) -> Any:
    """Run `task` on a worker and wait for its reply (RPC over the result backend).

    A domain error in the reply is raised again here; no reply in time is 503.
    The message expires with the wait, so a late worker does not do work nobody reads;
    it answers "revoked" instead, which can arrive before Celery notices the deadline
    (it checks between waits of up to a second), and means the same: 503.
    """
    result = producer.send_task(task, kwargs=message.model_dump(mode="json"), expires=timeout_s)
    try:
        reply = result.get(timeout=timeout_s, propagate=True)
    except (CeleryTimeout, TaskRevokedError) as exc:
        raise Unavailable(
            f"No worker answered within {timeout_s:g}s; retry shortly", retry_after_s=1
        ) from exc
    finally:
        result.forget()
    return unwrap_reply(reply)


class Dispatcher:
    """The gateway's way to the workers (see the module docstring)."""

    def __init__(self, producer: Celery, timeout_s: float) -> None:
        self._producer, self.timeout_s = producer, timeout_s

    def publish(self, session: Session, task: Task, message: Message) -> None:
        """Send `message` once `session` (the request's) commits; never if it rolls back."""
        after_commit(session, partial(send, self._producer, task, message))

    def call(self, task: Task, message: Message, extra_s: float = 0.0) -> Any:
        """The worker's reply to `message`, waited for `gateway.rpc_timeout_s` (plus
        `extra_s`, for a read that may wait on an LLM); 503 if none comes."""
        return call(self._producer, task, message, self.timeout_s + extra_s)

"""Sending tasks by name: the gateway produces messages but never imports `workers`."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout

from pipeline.config import Settings
from pipeline.errors import Unavailable
from pipeline.messages import Message, celery_config, unwrap_reply


def create_producer(settings: Settings) -> Celery:
    app = Celery("persona-gateway")
    app.conf.update(celery_config(settings))
    return app


def send(producer: Celery, task: str, message: Message) -> str:
    """Publish `message` to the queue routed for `task`; returns the task id."""
    return producer.send_task(task, kwargs=message.model_dump(mode="json")).id


def call(producer: Celery, task: str, message: Message, timeout_s: float) -> Any:
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
    return (
        unwrap_reply(reply)
        if isinstance(reply, dict) and ("ok" in reply or "error" in reply)
        else reply
    )

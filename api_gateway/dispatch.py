"""Sending tasks by name: the gateway produces messages but never imports `workers`."""

from __future__ import annotations

from typing import Any

from celery import Celery

from pipeline.config import Settings
from pipeline.messages import Message, celery_config


def create_producer(settings: Settings) -> Celery:
    app = Celery("persona-gateway")
    app.conf.update(celery_config(settings))
    return app


def send(producer: Celery, task: str, message: Message) -> str:
    """Publish `message` to the queue routed for `task`; returns the task id."""
    return producer.send_task(task, kwargs=message.model_dump(mode="json")).id


def call(producer: Celery, task: str, message: Message, timeout_s: float) -> Any:
    """Run `task` on a worker and wait for its answer (RPC over the result backend)."""
    result = producer.send_task(task, kwargs=message.model_dump(mode="json"))
    try:
        return result.get(timeout=timeout_s, propagate=True)
    finally:
        result.forget()

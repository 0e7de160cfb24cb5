"""Summaries: the cold computation (retrieval queue) and the settle check (summaries queue)."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from pipeline.errors import Retryable
from pipeline.messages import Summarize, SummaryCheck, Task
from pipeline.summaries import service
from workers.app import app, reply, runtime

MAX_RETRIES = 5


@app.task(name=Task.SUMMARIZE)
def compute(**payload: Any) -> dict[str, Any]:
    message = Summarize.model_validate(payload)
    return reply(lambda: service.summarize(runtime(), message.org_id, message.request).to_json())


@app.task(name=Task.SUMMARY_CHECK, bind=True, max_retries=MAX_RETRIES)
def settle(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = SummaryCheck.model_validate(payload)
    try:
        wait_s = service.settle(runtime(), message.user_pk, claimed=message.claimed)
    except Retryable as exc:
        retry = message.model_copy(update={"claimed": True}).model_dump()
        raise self.retry(kwargs=retry, exc=exc, countdown=min(2**self.request.retries, 30)) from exc
    if wait_s is not None:  # still ingesting: look again when the quiet period may be over
        app.send_task(Task.SUMMARY_CHECK, kwargs=payload, countdown=wait_s)
    return reply(lambda: wait_s)

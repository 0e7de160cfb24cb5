"""The webhooks queue: lease the deliveries that are due, and attempt each one."""

from __future__ import annotations

from typing import Any

from pipeline.messages import Task, WebhookAttempt, WebhooksDue
from pipeline.webhooks import deliver
from workers.app import app, reply, runtime


@app.task(name=Task.WEBHOOKS_DUE, track_started=False)
def due(**payload: Any) -> dict[str, Any]:
    WebhooksDue.model_validate(payload)
    leased = deliver.leased(runtime().engine, runtime().settings.webhooks)
    for item in leased:
        message = WebhookAttempt(delivery_id=item.delivery_id, attempt=item.attempt)
        app.send_task(Task.WEBHOOK_DELIVER, kwargs=message.model_dump())
    if len(leased) == deliver.BATCH:  # a backlog: keep draining, not once per poll
        app.send_task(Task.WEBHOOKS_DUE)
    return reply(lambda: len(leased))


@app.task(name=Task.WEBHOOK_DELIVER, track_started=False)
def attempt(**payload: Any) -> dict[str, Any]:
    message = WebhookAttempt.model_validate(payload)
    rt = runtime()
    status = deliver.attempt(
        rt.engine, rt.http, rt.settings.webhooks, message.delivery_id, message.attempt
    )
    return reply(lambda: status)

"""The maintenance queue: the outbox sweeper re-publishes jobs whose message or worker was
lost; erasure removes a user everywhere; footprint counts what a user holds."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task as CeleryTask

from pipeline import sweeper
from pipeline.erasure.footprint import footprint as user_footprint
from pipeline.erasure.run import run_erasure_job
from pipeline.messages import JOB_TASKS, EraseJob, Footprint, Sweep, Task
from workers.app import app, perform_job, reply, runtime

log = logging.getLogger("persona.sweeper")

MAX_RETRIES = 8


@app.task(name=Task.SWEEP)
def sweep(**payload: Any) -> dict[str, Any]:
    Sweep.model_validate(payload)
    found = sweeper.due(runtime())
    for job_id, kind in found.items():
        app.send_task(JOB_TASKS[kind], kwargs={"job_id": job_id})
    sweeper.sent(runtime(), list(found))
    if found:
        log.warning("re-published %d job(s) whose message or worker was lost", len(found))
    return reply(lambda: len(found))


@app.task(name=Task.ERASE, bind=True, max_retries=MAX_RETRIES)
def erase(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = EraseJob.model_validate(payload)
    # A failed erasure is not retried by itself: a new POST /delete starts a fresh one.
    report = perform_job(self, message.job_id, run_erasure_job)
    app.send_task(Task.WEBHOOKS_DUE)  # `user.erased`, if an endpoint wants it
    return reply(lambda: report)


@app.task(name=Task.FOOTPRINT, track_started=False)
def footprint(**payload: Any) -> dict[str, Any]:
    message = Footprint.model_validate(payload)
    return reply(lambda: user_footprint(runtime(), message.org_id, message.user_pk).to_json())

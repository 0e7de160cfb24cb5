"""The reprocess queue: long jobs as chains of short steps, and the periodic chores.

A step returns MORE when the job has work left: the next step is queued here, after
the step's checkpoint committed. If this process dies first, the sweeper finds the
job running on a dead worker and queues it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Task as CeleryTask

from pipeline.messages import LongJob, Task, Upkeep
from pipeline.reprocess import rebuild, reindex, verify
from pipeline.reprocess.steps import Step
from pipeline.runtime import Runtime
from workers.app import app, perform_job, reply, runtime

MAX_RETRIES = 8


def _step(
    task: CeleryTask, name: Task, payload: dict[str, Any], work: Callable[[Runtime, str], Step]
) -> dict[str, Any]:
    message = LongJob.model_validate(payload)
    step = perform_job(task, message.job_id, work)
    if step == Step.MORE:
        app.send_task(name, kwargs={"job_id": message.job_id})
    else:
        app.send_task(Task.WEBHOOKS_DUE)  # the job's end, if an endpoint wants it
    return reply(lambda: step.value)


@app.task(name=Task.REINDEX, bind=True, max_retries=MAX_RETRIES)
def reindex_step(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    return _step(self, Task.REINDEX, payload, reindex.run_reindex_step)


@app.task(name=Task.VERIFY, bind=True, max_retries=MAX_RETRIES)
def verify_step(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    return _step(self, Task.VERIFY, payload, verify.run_verify_step)


@app.task(name=Task.REBUILD, bind=True, max_retries=MAX_RETRIES)
def rebuild_step(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    return _step(self, Task.REBUILD, payload, rebuild.run_rebuild_step)


@app.task(name=Task.VERIFY_TICK)
def verify_tick(**payload: Any) -> dict[str, Any]:
    Upkeep.model_validate(payload)
    return reply(lambda: verify.tick(runtime()))


@app.task(name=Task.DROP_GENERATIONS)
def drop_generations(**payload: Any) -> dict[str, Any]:
    Upkeep.model_validate(payload)
    return reply(lambda: reindex.drop_expired(runtime()))

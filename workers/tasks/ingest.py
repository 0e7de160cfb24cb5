"""The ingest queue: index one job's items.

A job holds one of the worker's `embedding.parallel` embedding slots while it runs.
When every slot is busy, the task does not wait on the thread it was given: it puts
the job's message back at the end of the queue after `SLOT_WAIT_S` and returns, so
the worker's other threads stay free for reads. Without this, a bulk import filled
every thread with jobs waiting for the model and a `/chunks` call waited about 6 s
for one to finish (`python -m bench.ingest --reads-per-s 5`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import Task as CeleryTask

from pipeline.ingest.index import Ran, run_ingest_job
from pipeline.messages import IngestJob, SummaryCheck, Task
from pipeline.summaries import service as summaries
from workers.app import app, perform_job, reply, runtime

MAX_RETRIES = 8
SLOT_WAIT_S = 0.25  # how long a job waits for a slot before giving its thread back


@app.task(name=Task.INGEST, bind=True, max_retries=MAX_RETRIES)
def run_job(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = IngestJob.model_validate(payload)
    outcome = perform_job(self, message.job_id, partial(run_ingest_job, slot_wait_s=SLOT_WAIT_S))
    if outcome.status == Ran.BUSY:
        # Published before this message is acknowledged: a crash in between leaves two
        # messages for the job, and running a job twice is harmless (it is claimed once).
        app.send_task(Task.INGEST, kwargs=message.model_dump())
    elif outcome.status == Ran.SUCCEEDED and (
        due := summaries.note_ingested(runtime(), message.job_id)
    ):
        check = SummaryCheck(user_pk=due.user_pk).model_dump()
        app.send_task(Task.SUMMARY_CHECK, kwargs=check, countdown=due.delay_s)
    if outcome.deliveries:  # the job's end is an event for some endpoint: send it now
        app.send_task(Task.WEBHOOKS_DUE)
    return reply(lambda: {"status": outcome.status, "chunks": outcome.chunks})

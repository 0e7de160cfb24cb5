"""The ingest queue: index the jobs a message names, with other queued jobs in one batch.

A batch holds one of the worker's `embedding.parallel` embedding slots while it runs.
When every slot is busy, the task does not wait on the thread it was given: it puts
the message back at the end of the queue after `SLOT_WAIT_S` and returns, so the
worker's other threads stay free for reads. Without this, a bulk import filled
every thread with jobs waiting for the model and a `/chunks` call waited about 6 s
for one to finish (`python -m bench.ingest --reads-per-s 5`).

Nobody reads an ingest task's result (clients poll the job), so none is stored.
"""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from pipeline import context, jobs
from pipeline.ingest.index import run_ingest_jobs
from pipeline.messages import IngestJob, SummaryCheck, Task
from pipeline.summaries import service as summaries
from workers.app import app, runtime

MAX_RETRIES = 8
SLOT_WAIT_S = 0.25  # how long a batch waits for a slot before giving its thread back


def send(job_ids: list[str]) -> None:
    """One message for `job_ids`. Published before the message in hand is acknowledged: a
    crash in between leaves two messages for a job, and the second one is a no-op."""
    if job_ids:
        app.send_task(Task.INGEST, kwargs=IngestJob.of(job_ids).model_dump())


@app.task(name=Task.INGEST, bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def run_job(self: CeleryTask, **payload: Any) -> str:
    message = IngestJob.model_validate(payload)
    context.bind(job_id=message.job_id)
    report = run_ingest_jobs(runtime(), message.job_ids, slot_wait_s=SLOT_WAIT_S)
    if report.busy:
        send(message.job_ids)
        return "busy"
    if report.retry is not None and self.request.retries >= MAX_RETRIES:
        for job_id in report.put_back:  # not those another batch runs
            jobs.fail_now(
                runtime().engine, job_id, f"gave up after retries: {report.retry.message}"
            )
    elif report.retry is not None:  # back in the queue: sent again after a backoff
        self.retry(
            kwargs=IngestJob.of(report.resend).model_dump(),
            countdown=min(2**self.request.retries, 60),
            throw=False,
        )
    else:
        send(report.resend)  # named jobs that did not fit in the batch
    for due in summaries.note_ingested(runtime(), report.users):
        check = SummaryCheck(user_pk=due.user_pk).model_dump()
        app.send_task(Task.SUMMARY_CHECK, kwargs=check, countdown=due.delay_s)
    if report.deliveries:  # the jobs' ends are events for some endpoint: send them now
        app.send_task(Task.WEBHOOKS_DUE)
    return f"{len(report.ended)} jobs ended"

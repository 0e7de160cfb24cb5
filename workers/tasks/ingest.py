"""The ingest queue: index one job's items."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from pipeline import indexing
from pipeline.messages import IngestJob, SummaryCheck, Task
from pipeline.summaries import service as summaries
from workers.app import app, perform_job, runtime

MAX_RETRIES = 8


@app.task(name=Task.INGEST, bind=True, max_retries=MAX_RETRIES)
def run_job(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = IngestJob.model_validate(payload)
    outcome = perform_job(self, message.job_id, indexing.run_ingest_job)
    if outcome.status == "succeeded" and (
        due := summaries.note_ingested(runtime(), message.job_id)
    ):
        check = SummaryCheck(user_pk=due.user_pk).model_dump()
        app.send_task(Task.SUMMARY_CHECK, kwargs=check, countdown=due.delay_s)
    return {"status": outcome.status, "chunks": outcome.chunks, "reason": outcome.reason}

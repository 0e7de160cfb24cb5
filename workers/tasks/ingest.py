"""The ingest queue: index one job's items."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from pipeline import indexing
from pipeline.errors import Retryable
from pipeline.messages import IngestJob, SummaryCheck, Task
from pipeline.summaries import service as summaries
from workers.app import app, runtime

MAX_RETRIES = 8


@app.task(name=Task.INGEST, bind=True, max_retries=MAX_RETRIES)
def run_job(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = IngestJob.model_validate(payload)
    try:
        outcome = indexing.run_ingest_job(runtime(), message.job_id)
    except Retryable as exc:
        if self.request.retries >= MAX_RETRIES:
            indexing.fail_job(runtime(), message.job_id, f"gave up after retries: {exc}")
            raise
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
    except Exception as exc:
        # Not transient: retrying would fail the same way and hold the queue.
        indexing.fail_job(runtime(), message.job_id, f"{type(exc).__name__}: {exc}")
        raise
    if outcome.status == "succeeded" and (
        due := summaries.note_ingested(runtime(), message.job_id)
    ):
        check = SummaryCheck(user_pk=due.user_pk).model_dump()
        app.send_task(Task.SUMMARY_CHECK, kwargs=check, countdown=due.delay_s)
    return {"status": outcome.status, "chunks": outcome.chunks, "reason": outcome.reason}

"""The maintenance queue: the outbox sweeper re-publishes jobs whose message was lost."""

from __future__ import annotations

import logging
from typing import Any

from pipeline import jobs
from pipeline.db.engine import session_scope
from pipeline.footprint import user_footprint
from pipeline.messages import Footprint, IngestJob, Sweep, Task
from workers.app import app, runtime

log = logging.getLogger("persona.sweeper")


@app.task(name=Task.SWEEP)
def sweep(**payload: Any) -> int:
    Sweep.model_validate(payload)
    settings = runtime().settings
    with session_scope(runtime().engine) as session:
        lost = jobs.lost(session, settings.ingest.republish_after_s, settings.ingest.stuck_after_s)
        for job_id in lost:
            app.send_task(Task.INGEST, kwargs=IngestJob(job_id=job_id).model_dump())
        if lost:
            jobs.mark_published(session, lost)
    if lost:
        log.warning("re-published %d job(s) whose message was lost", len(lost))
    return len(lost)


@app.task(name=Task.FOOTPRINT)
def footprint(**payload: Any) -> dict[str, int]:
    message = Footprint.model_validate(payload)
    return user_footprint(runtime(), message.org_id, message.user_id)

"""A batch's jobs end in one statement (`jobs.succeed_all`): each with its own counts, a job
ended already left as it was, and events written only where an endpoint wants them."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import jobs, keys
from pipeline.db.models import Job, WebhookDelivery, WebhookEvent
from pipeline.status import JobKind
from pipeline.webhooks import endpoints


def queued(db: Session, org_id: int, user: str) -> str:
    job_id = jobs.new_id()
    jobs.create(db, job_id, JobKind.INGEST, org_id, user, None, items=1)
    return job_id


def test_a_batch_ends_each_job_once_and_announces_only_where_listened_to(db: Session) -> None:
    listened = keys.ensure_org(db, f"listened-{uuid.uuid4().hex[:8]}")
    quiet = keys.ensure_org(db, f"quiet-{uuid.uuid4().hex[:8]}")
    endpoints.create(db, listened, "http://127.0.0.1:9/hook", ["job.succeeded"], None, True)
    first, second = queued(db, listened, "ash"), queued(db, listened, "bo")
    elsewhere = queued(db, quiet, "cy")
    ended_before = queued(db, listened, "di")
    jobs.fail(db, ended_before, "failed before the batch wrote")
    db.flush()

    chunks = {first: 3, second: 1, elsewhere: 2, ended_before: 5}
    deliveries = jobs.succeed_all(db, chunks, {"total_ms": 1.0, "batch_jobs": 4})
    db.flush()

    rows = {job.id: job for job in db.execute(select(Job).where(Job.id.in_(chunks))).scalars()}
    for job_id in (first, second, elsewhere):
        assert rows[job_id].status == "succeeded"
        assert rows[job_id].chunks == chunks[job_id]
        assert rows[job_id].timings == {"total_ms": 1.0, "batch_jobs": 4}
        assert rows[job_id].finished_at is not None
    assert rows[ended_before].status == "failed", "a job ended already keeps its end"
    assert rows[ended_before].chunks == 0

    assert deliveries == 2  # the two new ends in the organization with an endpoint
    events = db.execute(
        select(WebhookEvent.org_id, WebhookEvent.type, WebhookEvent.data).where(
            WebhookEvent.org_id.in_([listened, quiet])
        )
    ).all()
    assert sorted(e.data["job_id"] for e in events if e.type == "job.succeeded") == sorted(
        [first, second]
    )
    assert {e.org_id for e in events} == {listened}, "no event where nothing listens"
    pending = db.execute(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.org_id == listened)
    ).scalar_one()
    assert pending == 2

"""The worker half of ingestion, called directly: the job time limit is real (the worker
pool runs tasks on threads, which no one can stop from outside), and a job that runs past
it ends failed with a reason, its items kept pending and nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from pipeline import keys
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item, Job
from pipeline.ingest import accept
from pipeline.ingest.index import Ran, run_ingest_job
from pipeline.placing import EMBED_SLICE
from pipeline.runtime import Runtime
from pipeline.schemas import IngestRequest
from tests.helpers import events


def accepted_job(runtime: Runtime, engine: Engine, count: int) -> tuple[int, str]:
    facts = [f"Note {i}: the quarterly review of budget line {i} is due." for i in range(count)]
    request = IngestRequest.model_validate({"user_id": "u", "events": events(facts)})
    with session_scope(engine) as session:
        org_id = keys.ensure_org(session, f"limit-{uuid.uuid4().hex[:8]}")
        job_id = accept.accept(session, org_id, request, runtime.settings.ingest).job_id
    return org_id, job_id


def test_a_job_past_its_time_limit_fails_and_writes_nothing(
    make_runtime: Callable[..., Runtime], engine: Engine
) -> None:
    runtime = make_runtime(ingest={"job_time_limit_s": 1e-6})
    _, job_id = accepted_job(runtime, engine, EMBED_SLICE + 1)

    outcome = run_ingest_job(runtime, job_id)

    assert outcome.status == Ran.FAILED
    assert outcome.reason is not None
    assert "PERSONA_INGEST_JOB_TIME_LIMIT_S" in outcome.reason
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.status == "failed"
        assert job.error == outcome.reason
        states = session.execute(select(Item.state).where(Item.job_id == job_id)).scalars()
        assert set(states) == {"pending"}, "accepted items are kept, not lost"
        written = session.execute(
            select(func.count()).select_from(Chunk).join(Item).where(Item.job_id == job_id)
        ).scalar_one()
        assert written == 0


def test_within_its_time_limit_a_job_embeds_in_slices_and_succeeds(
    make_runtime: Callable[..., Runtime], engine: Engine
) -> None:
    runtime = make_runtime()
    _, job_id = accepted_job(runtime, engine, EMBED_SLICE + 1)
    outcome = run_ingest_job(runtime, job_id)
    assert outcome.status == Ran.SUCCEEDED
    assert outcome.chunks == EMBED_SLICE + 1

"""`POST /ingest` (seed 001): accept events and documents, durable before the answer."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, status

from api_gateway.backpressure import BacklogOk
from api_gateway.deps import SessionDep, Writer
from api_gateway.dispatch import send
from api_gateway.responses import errors
from pipeline import ingest
from pipeline.db.engine import after_commit
from pipeline.messages import IngestJob, Task
from pipeline.schemas import Ingested, IngestRequest, IngestResponse

router = APIRouter(tags=["ingest"])


@router.post(
    "/ingest",
    response_model=IngestResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 409, 413, 429, 500),
    summary="Ingest events and documents for a user",
)
def ingest_items(
    body: IngestRequest,
    request: Request,
    session: SessionDep,
    caller: Writer,
    _backlog: BacklogOk,
) -> IngestResponse:
    """Stores what is new, counts re-sent items as duplicates, and queues one indexing job.
    An unknown user is created; the job id is published only after the commit.
    429 with Retry-After while the ingest backlog is above its bound (backpressure)."""
    settings = request.app.state.settings
    accepted = ingest.accept(session, caller.org_id, body, settings.ingest)
    if accepted.queued:
        producer = request.app.state.producer
        after_commit(
            session, partial(send, producer, Task.INGEST, IngestJob(job_id=accepted.job_id))
        )
    return IngestResponse(
        ingested=Ingested(events=accepted.events, documents=accepted.documents),
        duplicates=accepted.duplicates,
        job_id=accepted.job_id,
        updated_at=accepted.updated_at,
    )

"""`POST /ingest` (seed 001): accept events and documents, durable before the answer."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.bodies import BodyRoute
from api_gateway.deps import BacklogOk, DispatchDep, GatewayDep, SessionDep, Writer
from api_gateway.responses import errors
from pipeline.ingest import accept
from pipeline.messages import IngestJob, Task
from pipeline.schemas import Ingested, IngestRequest, IngestResponse

router = APIRouter(route_class=BodyRoute, tags=["ingest"])


@router.post(
    "/ingest",
    response_model=IngestResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 409, 413, 429, 500),
    summary="Ingest events and documents for a user",
)
def ingest_items(
    body: IngestRequest,
    gateway: GatewayDep,
    session: SessionDep,
    dispatcher: DispatchDep,
    caller: Writer,
    _backlog: BacklogOk,
) -> IngestResponse:
    """Stores what is new, counts re-sent items as duplicates, and queues one indexing job.
    An unknown user is created; the job id is published only after the commit.
    429 with Retry-After while the ingest backlog is above its bound (backpressure)."""
    accepted = accept.accept(session, caller.org_id, body, gateway.settings.ingest)
    if accepted.queued:
        dispatcher.publish(session, Task.INGEST, IngestJob(job_id=accepted.job_id))
    return IngestResponse(
        ingested=Ingested(events=accepted.events, documents=accepted.documents),
        duplicates=accepted.duplicates,
        job_id=accepted.job_id,
        updated_at=accepted.updated_at,
    )

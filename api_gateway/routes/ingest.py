"""`POST /ingest` (seed 001): accept events and documents, durable before the answer.

Requests are written in groups (`api_gateway.group_commit`): those that arrive while
a write is in flight share the next transaction and the one message that sends
their jobs to the workers; each still gets its own job and its own answer.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import Engine

from api_gateway.bodies import BodyRoute
from api_gateway.deps import BacklogOk, GatewayDep, IngestRequestOf, Writer
from api_gateway.dispatch import Dispatcher
from api_gateway.responses import errors
from pipeline.config import Settings
from pipeline.db.engine import session_scope
from pipeline.ingest import accept
from pipeline.messages import IngestJob, Task
from pipeline.schemas import Ingested, IngestRequest, IngestResponse

router = APIRouter(route_class=BodyRoute, tags=["ingest"])


def items_in(request: IngestRequestOf) -> int:
    return len(request[1].events) + len(request[1].documents)


def write_group(
    engine: Engine, settings: Settings, dispatcher: Dispatcher, group: list[IngestRequestOf]
) -> list[accept.Accepted | Exception]:
    """Accept a group in one transaction; once it has committed, one message names
    every job it queued."""
    with session_scope(engine) as session:
        results = accept.accept_all(session, group, settings.ingest, settings.lane)
        queued = [r.job_id for r in results if isinstance(r, accept.Accepted) and r.queued]
        if queued:
            dispatcher.publish(session, Task.INGEST, IngestJob.of(queued))
    answers: list[accept.Accepted | Exception] = [*results]
    return answers


@router.post(
    "/ingest",
    response_model=IngestResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 409, 413, 429, 500),
    summary="Ingest events and documents for a user",
)
async def ingest_items(
    body: IngestRequest, gateway: GatewayDep, caller: Writer, _backlog: BacklogOk
) -> IngestResponse:
    """Stores what is new, counts re-sent items as duplicates, and queues one indexing job.
    An unknown user is created; the job id is published only after the commit.
    429 with Retry-After while the ingest backlog is above its bound (backpressure)."""
    accepted = await gateway.ingests.submit((caller.org_id, body))
    return IngestResponse(
        ingested=Ingested(events=accepted.events, documents=accepted.documents),
        duplicates=accepted.duplicates,
        job_id=accepted.job_id,
        updated_at=accepted.updated_at,
    )

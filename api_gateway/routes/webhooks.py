"""`POST /webhooks/{source_id}`: a producer's signed message, with no API key.

The signature is checked against the raw bytes before anything is read as JSON
or written: a bad, missing, too old or too new signature is 401
INVALID_SIGNATURE, and counts against the sender's address like a bad key. Then
the source's organization's rate limit applies, and the message is accepted as
`/ingest` would accept it (backpressure, limits, duplicates, one job).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from anyio import from_thread
from fastapi import APIRouter, Depends, Header, Path, Request, status

from api_gateway import limits
from api_gateway.bodies import BodyRoute
from api_gateway.deps import BacklogOk, DispatchDep, GatewayDep, SessionDep
from api_gateway.responses import errors
from pipeline.errors import InvalidSignature
from pipeline.messages import IngestJob, Task
from pipeline.schemas import Ingested, IngestResponse
from pipeline.webhooks import inbound, secrets

router = APIRouter(route_class=BodyRoute, tags=["webhooks"])
SourceIdPath = Path(pattern=r"^src_[0-9A-Za-z]{26}$", description="The source's id.")


async def raw_body(request: Request) -> bytes:
    """The body as sent: a signature covers bytes, not what a parser makes of them."""
    return await request.body()


@router.post(
    "/webhooks/{source_id}",
    response_model=IngestResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 404, 409, 413, 429, 500, 503),
    summary="Receive a producer's signed events (Standard Webhooks)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Persona's ingest body, or the producer's own JSON under the "
            "source's mapping; items without an id take `webhook-id` and their position.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def receive(
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    gateway: GatewayDep,
    session: SessionDep,
    dispatcher: DispatchDep,
    _backlog: BacklogOk,
    source_id: str = SourceIdPath,
    webhook_id: Annotated[str | None, Header(alias="webhook-id")] = None,
    webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp")] = None,
    webhook_signature: Annotated[str | None, Header(alias="webhook-signature")] = None,
) -> IngestResponse:
    source, org_limits = gateway.sources.lookup(source_id)
    signed = {
        "webhook-id": webhook_id or "",
        "webhook-timestamp": webhook_timestamp or "",
        "webhook-signature": webhook_signature or "",
    }
    if not secrets.verifies(source.secrets_now(datetime.now(UTC)), body, signed):
        # the buckets are awaited on the event loop; this route runs on the thread pool
        from_thread.run(limits.admit_anonymous, request, gateway.bucket, gateway.settings.ratelimit)
        raise InvalidSignature(
            "The webhook signature does not verify, or its timestamp is more than 5 minutes "
            "away from now: sign `{webhook-id}.{webhook-timestamp}.{body}` with the source's "
            "secret"
        )
    from_thread.run(
        limits.admit, request, gateway.bucket, gateway.active_users, source.org_id, org_limits
    )
    received = datetime.fromtimestamp(int(float(signed["webhook-timestamp"])), UTC)
    accepted = inbound.receive(
        session,
        source,
        body,
        signed["webhook-id"],
        received,
        gateway.settings.ingest,
        gateway.settings.lane,
    )
    if accepted.queued:
        dispatcher.publish(session, Task.INGEST, IngestJob(job_id=accepted.job_id))
    return IngestResponse(
        ingested=Ingested(events=accepted.events, documents=accepted.documents),
        duplicates=accepted.duplicates,
        job_id=accepted.job_id,
        updated_at=accepted.updated_at,
    )

"""`/v1/sources`: the producers that may push signed events (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Admin, GatewayDep, SessionDep
from api_gateway.responses import errors
from pipeline.webhooks import sources
from pipeline.webhooks.schemas import (
    SourceCreate,
    SourceList,
    SourceOut,
    SourceSecret,
    source_out,
)

router = APIRouter(route_class=BodyRoute, prefix="/v1/sources", tags=["webhooks"])
SourceIdPath = Path(pattern=r"^src_[0-9A-Za-z]{26}$", description="The source's id.")


@router.post(
    "",
    response_model=SourceSecret,
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
    summary="Register a webhook source; its secret is shown this once",
)
def create_source(body: SourceCreate, session: SessionDep, caller: Admin) -> SourceOut:
    row, secret = sources.create(session, caller.org_id, body.name, body.mapping)
    session.flush()
    return source_out(row, secret)


@router.get("", response_model=SourceList, summary="The organization's webhook sources")
def list_sources(session: SessionDep, caller: Admin) -> SourceList:
    return SourceList(sources=[source_out(row) for row in sources.listing(session, caller.org_id)])


@router.post(
    "/{source_id}/rotate",
    response_model=SourceSecret,
    responses=errors(404),
    summary="A new secret; the old one verifies for PERSONA_WEBHOOKS_ROTATION_GRACE_S",
)
def rotate_source(
    gateway: GatewayDep, session: SessionDep, caller: Admin, source_id: str = SourceIdPath
) -> SourceOut:
    grace = gateway.settings.webhooks.rotation_grace_s
    row, secret = sources.rotate(session, caller.org_id, source_id, grace)
    return source_out(row, secret)


@router.delete(
    "/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
    summary="Remove a webhook source: its messages are refused from now on",
)
def delete_source(session: SessionDep, caller: Admin, source_id: str = SourceIdPath) -> Response:
    sources.remove(session, caller.org_id, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

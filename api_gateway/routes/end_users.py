"""Seed 003's `/v1/end-users`: the same users as `/register`, as a resource; everything
Persona holds about one of them (`/export`, the right of access); and, for admins, what
is stored of one of them in each store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import StreamingResponse

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Admin, DispatchDep, GatewayDep, Reader, SessionDep, Writer
from api_gateway.params import UserIdPath
from api_gateway.responses import errors
from pipeline import export, users
from pipeline.db.engine import session_scope
from pipeline.db.models import User
from pipeline.messages import Footprint, Task
from pipeline.schemas import EndUser, EndUserCreate, EndUserPatch, UserFootprint
from pipeline.status import UserStatus

router = APIRouter(route_class=BodyRoute, prefix="/v1/end-users", tags=["end-users"])


def _out(user: User) -> EndUser:
    return EndUser(
        user_id=user.user_id,
        metadata=user.traits,
        purpose=user.purpose,
        status=UserStatus(user.status),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@router.post(
    "",
    response_model=EndUser,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EndUser, "description": "Already existed; returned unchanged"},
        **errors(400, 401, 403, 409, 422, 500),
    },
    summary="Pre-register an end user",
)
def create_end_user(
    body: EndUserCreate, response: Response, session: SessionDep, caller: Writer
) -> EndUser:
    """201 for a new user; 200 and the stored record (metadata ignored) if it exists."""
    result = users.create_if_absent(session, caller.org_id, body.user_id, body.metadata)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _out(result.user)


@router.get(
    "/{user_id}", response_model=EndUser, responses=errors(401, 403, 404, 500), summary="Get one"
)
def get_end_user(session: SessionDep, caller: Reader, user_id: str = UserIdPath) -> EndUser:
    return _out(users.find(session, caller.org_id, user_id))


@router.patch(
    "/{user_id}",
    response_model=EndUser,
    responses=errors(400, 401, 403, 404, 409, 422, 500),
    summary="Merge metadata into an end user",
)
def patch_end_user(
    body: EndUserPatch, session: SessionDep, caller: Writer, user_id: str = UserIdPath
) -> EndUser:
    return _out(users.patch(session, caller.org_id, user_id, body.metadata, body.purpose))


def _user_pk(gateway: GatewayDep, caller: Admin, user_id: str = UserIdPath) -> int:
    """The user's row id, read in a transaction of its own that ends before the handler
    waits on a worker."""
    with session_scope(gateway.engine) as session:
        return users.pk(session, caller.org_id, user_id)


@router.get(
    "/{user_id}/footprint",
    response_model=UserFootprint,
    responses=errors(401, 403, 404, 500, 503),
    summary="What is stored of an end user, per store (admin)",
)
def footprint(
    user_pk: Annotated[int, Depends(_user_pk)],
    dispatcher: DispatchDep,
    caller: Admin,
    user_id: str = UserIdPath,
) -> UserFootprint:
    """Rows per table, points in the vector index and Redis keys of the user: what a
    deletion removes (`POST /delete`), counted the same way its report counts them."""
    counts = dispatcher.call(Task.FOOTPRINT, Footprint(org_id=caller.org_id, user_pk=user_pk))
    return UserFootprint(user_id=user_id, **counts)


NDJSON = "application/x-ndjson"


@router.get(
    "/{user_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "description": "One JSON object per line, each with a `kind`: `user` (first), "
            "then every `item`, `summary` and `job` of the user.",
        },
        **errors(401, 403, 404, 500),
    },
    summary="Everything stored about an end user, as NDJSON",
)
def export_end_user(
    gateway: GatewayDep, caller: Reader, user_id: str = UserIdPath
) -> StreamingResponse:
    """Streamed from PostgreSQL a page at a time; 404 before any line if there is no user."""
    pk = export.user_pk(gateway.engine, caller.org_id, user_id)
    return StreamingResponse(export.lines(gateway.engine, caller.org_id, pk), media_type=NDJSON)

"""Seed 003's `/v1/end-users`: the same users as `/register`, as a resource."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status

from api_gateway.deps import Reader, SessionDep, Writer
from api_gateway.responses import errors
from pipeline import users
from pipeline.db.models import User
from pipeline.schemas import EndUser, EndUserCreate, EndUserPatch

router = APIRouter(prefix="/v1/end-users", tags=["end-users"])
UserIdPath = Path(min_length=1, max_length=256, pattern=r"^[^\x00]+$")


def _out(user: User) -> EndUser:
    return EndUser(
        user_id=user.user_id,
        metadata=user.traits,
        purpose=user.purpose,
        status=user.status,  # type: ignore[arg-type]
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@router.post(
    "",
    response_model=EndUser,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EndUser, "description": "Already existed; returned unchanged"}}
    | errors(400, 401, 403, 409, 422, 500),
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
    return _out(users.get(session, caller.org_id, user_id))


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

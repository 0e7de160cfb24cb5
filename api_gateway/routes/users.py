"""`PUT /register` (seed 000): create a user or deep-merge its traits."""

from __future__ import annotations

from fastapi import APIRouter

from api_gateway.bodies import BodyRoute
from api_gateway.deps import SessionDep, Writer
from api_gateway.responses import errors
from pipeline import users
from pipeline.schemas import RegisterRequest, RegisterResponse

router = APIRouter(route_class=BodyRoute, tags=["users"])


@router.put(
    "/register",
    response_model=RegisterResponse,
    responses=errors(400, 401, 403, 409, 413, 500),
    summary="Register a user",
)
def register(body: RegisterRequest, session: SessionDep, caller: Writer) -> RegisterResponse:
    """Create or update a user profile; idempotent, traits merged into what is stored."""
    result = users.register(session, caller.org_id, body.user_id, body.traits, body.purpose)
    return RegisterResponse.model_validate(result.user, from_attributes=True)

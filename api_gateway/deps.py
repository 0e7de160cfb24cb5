"""Request dependencies: the session the request owns, and who is calling.

The session dependency uses FastAPI's `scope="function"` so its commit runs
when the handler returns and before the response is sent: an answer is only
ever given for work that is already durable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api_gateway import limits
from pipeline import keys
from pipeline.config import Settings
from pipeline.db.engine import session_scope

_authorization = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="ApiKey",
    description="`x-api-key: <key>` (the seeds' form) or `Bearer <key>`; "
    "an `X-API-Key: <key>` header works too.",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]


def key_from_headers(request: Request, authorization: str | None) -> str | None:
    """The API key from any of the three accepted header forms."""
    direct = request.headers.get("x-api-key")
    if direct:
        return direct.strip()
    value = (authorization or "").strip()
    lowered = value.lower()
    if lowered.startswith("x-api-key:"):
        return value[len("x-api-key:") :].strip()
    if lowered.startswith("bearer "):
        return value[len("bearer ") :].strip()
    return None


def _caller(
    request: Request,
    authorization: Annotated[str | None, Security(_authorization)] = None,
) -> keys.Principal:
    caller = request.app.state.callers.lookup(key_from_headers(request, authorization))
    limits.admit(request, caller.principal.org_id, caller.limits)
    request.state.org_id = caller.principal.org_id
    return caller.principal


def requires(scope: str) -> Callable[..., keys.Principal]:
    """A dependency that authenticates and checks `scope` (401, then 403)."""

    # async: a check in memory, which need not cost a hop to the thread pool
    async def dependency(
        principal: Annotated[keys.Principal, Depends(_caller)],
    ) -> keys.Principal:
        principal.require(scope)
        return principal

    return dependency


Reader = Annotated[keys.Principal, Depends(requires("read"))]
Writer = Annotated[keys.Principal, Depends(requires("read_write"))]
Admin = Annotated[keys.Principal, Depends(requires("admin"))]

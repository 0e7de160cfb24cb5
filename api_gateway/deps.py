"""Request dependencies: the process's shared state, the session the request owns, who is
calling, and the way to the workers.

`Gateway` is everything a gateway process builds once at start-up; routes reach
it only through these dependencies, never through `request.app.state`. The
session dependency uses FastAPI's `scope="function"` so its commit runs when the
handler returns and before the response is sent: an answer is only ever given
for work that is already durable, and a job is published only after that commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import redis
from celery import Celery
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api_gateway import limits
from api_gateway.backpressure import BacklogGauge, check_backlog
from api_gateway.callers import Callers, Sources
from api_gateway.dispatch import Dispatcher
from api_gateway.group_commit import GroupCommit
from pipeline import context, keys
from pipeline.config import Settings
from pipeline.db.engine import session_scope
from pipeline.errors import Unauthorized
from pipeline.ingest.accept import Accepted
from pipeline.limits import ActiveUsers, TokenBucket
from pipeline.schemas import IngestRequest

IngestRequestOf = tuple[int, IngestRequest]
"""A `POST /ingest` request in a group: the caller's organization and what it sent."""


@dataclass(frozen=True)
class Gateway:
    """What every request of this process shares."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    aredis: AsyncRedis  # the same Redis, for what the event loop awaits
    producer: Celery
    dispatcher: Dispatcher
    ingests: GroupCommit[IngestRequestOf, Accepted]  # `POST /ingest`, written in groups
    callers: Callers
    sources: Sources
    backlog: BacklogGauge
    bucket: TokenBucket
    active_users: ActiveUsers


async def get_gateway(request: Request) -> Gateway:
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def get_session(gateway: GatewayDep) -> Iterator[Session]:
    with session_scope(gateway.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_dispatcher(gateway: GatewayDep) -> Dispatcher:
    return gateway.dispatcher


DispatchDep = Annotated[Dispatcher, Depends(get_dispatcher)]

_authorization = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="ApiKey",
    description="`x-api-key: <key>` (the seeds' form) or `Bearer <key>`; "
    "an `X-API-Key: <key>` header works too.",
)
KEY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The seeds' form: the whole value is `x-api-key: <key>`.",
    },
    "Bearer": {"type": "http", "scheme": "bearer", "description": "`Bearer <key>`."},
    "XApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The key alone, in a header of its own.",
    },
}
"""The three header forms `key_from_headers` reads, as OpenAPI security schemes: any one
of them authenticates (the document lists them as alternatives, `openapi.document`)."""


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


async def _caller(
    request: Request,
    gateway: GatewayDep,
    authorization: Annotated[str | None, Security(_authorization)] = None,
) -> keys.Principal:
    """Who is calling, and a token from their organization's bucket. On the event loop: a
    key read within `gateway.auth_cache_s` is in memory, and the bucket is one awaited
    Redis call; only a key not seen lately is read from PostgreSQL, on the thread pool."""
    key = key_from_headers(request, authorization)
    try:
        caller = gateway.callers.known(key)
        if caller is None:
            caller = await run_in_threadpool(gateway.callers.lookup, key)
    except Unauthorized:
        await limits.admit_anonymous(request, gateway.bucket, gateway.settings.ratelimit)
        raise
    context.bind(org=caller.principal.org_id)  # the request's log lines name its organization
    await limits.admit(
        request, gateway.bucket, gateway.active_users, caller.principal.org_id, caller.limits
    )
    return caller.principal


def requires(scope: str) -> Callable[..., Awaitable[keys.Principal]]:
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
Operator = Annotated[keys.Principal, Depends(requires("operator"))]


async def _backlog_ok(gateway: GatewayDep) -> None:
    await check_backlog(gateway.backlog, gateway.settings.ingest)


BacklogOk = Annotated[None, Depends(_backlog_ok)]
"""429 with Retry-After while the ingest backlog is above its bound (backpressure)."""

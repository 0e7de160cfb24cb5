"""Liveness and readiness, as orchestrators probe them."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api_gateway.bodies import BodyRoute
from api_gateway.deps import GatewayDep, SessionDep
from api_gateway.responses import errors
from pipeline.errors import Unavailable

router = APIRouter(route_class=BodyRoute, tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=errors(503), summary="PostgreSQL and Redis answer")
def readyz(session: SessionDep, gateway: GatewayDep) -> dict[str, str]:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        raise Unavailable(f"PostgreSQL is not reachable: {type(exc).__name__}") from exc
    try:
        gateway.redis.ping()
    except Exception as exc:
        raise Unavailable(f"Redis is not reachable: {type(exc).__name__}") from exc
    return {"status": "ready", "postgres": "ok", "redis": "ok"}

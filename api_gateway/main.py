"""The gateway application; `python -m api_gateway.serve` runs it (see `serve`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api_gateway import errors, metrics, openapi
from api_gateway.backpressure import BacklogGauge
from api_gateway.callers import Callers, Sources
from api_gateway.deps import Gateway
from api_gateway.dispatch import Dispatcher, create_producer, reads_client
from api_gateway.group_commit import GroupCommit
from api_gateway.middleware import BodyLimit, RequestContext
from api_gateway.routes import (
    deletion,
    end_users,
    health,
    ingest,
    jobs,
    reprocess,
    retrieval,
    sources,
    summaries,
    users,
    webhook_endpoints,
    webhooks,
)
from pipeline import keys, keyspace, telemetry
from pipeline.config import Settings, get_settings
from pipeline.db.engine import get_engine, session_scope
from pipeline.limits import ActiveUsers, TokenBucket
from pipeline.logs import configure_logging

log = logging.getLogger("persona.gateway")

DESCRIPTION = """Persona: a self-hostable personalization API for AI agents, compatible with
the Fastino Personalization API. Every response carries `X-Request-Id`; errors are
`{"error": {"code", "message", "request_id"}}`."""


def build(settings: Settings) -> Gateway:
    """The state every request of this process shares, built once at start-up."""
    engine = get_engine(settings.require_database_url(), settings.database.pool_size)
    cache = keyspace.connect(settings.require_redis_url())
    aredis = keyspace.connect_async(settings.require_redis_url())
    producer = create_producer(settings)
    dispatcher = Dispatcher(producer, settings.gateway.rpc_timeout_s, reads_client(settings))
    return Gateway(
        settings=settings,
        engine=engine,
        redis=cache,
        aredis=aredis,
        producer=producer,
        dispatcher=dispatcher,
        ingests=GroupCommit(
            partial(ingest.write_group, engine, settings, dispatcher),
            ingest.items_in,
            settings.ingest.max_items,
        ),
        callers=Callers(engine, settings),
        sources=Sources(engine, settings),
        backlog=BacklogGauge(aredis, settings.ingest.backlog_check_s),
        bucket=TokenBucket(aredis),
        active_users=ActiveUsers(engine),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = build(settings)
        if settings.bootstrap_key:
            with session_scope(gateway.engine) as session:
                keys.register_key(
                    session,
                    settings.default_org,
                    settings.bootstrap_key,
                    ["read_write", "admin", "operator"],
                    name="bootstrap",
                )
        app.state.gateway = gateway
        log.info("gateway ready on %s:%s", settings.host, settings.port)
        yield
        gateway.dispatcher.close()
        await gateway.dispatcher.aclose()
        gateway.producer.close()
        gateway.redis.close()
        await gateway.aredis.aclose()
        gateway.engine.dispose()

    # Swagger UI and ReDoc from files in the package, not from a CDN: a self-hosted,
    # offline install shows its docs too.
    app = FastAPIOffline(
        title="Persona",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,  # `/v1/end-users/` is a 404 in the envelope, not an empty 307
        # Traces come from the OpenTelemetry instrumentation, where OTEL_* asks for them
        # (`instrument_traces`); FastAPI's own would look up the global providers on
        # every request (6% of the gateway's CPU on a stream of small requests) to find
        # them unset, or trace each request twice.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    metrics.instrument(app)
    app.add_middleware(BodyLimit, max_bytes=settings.gateway.max_body_bytes)
    app.add_middleware(RequestContext)  # outermost: its headers reach the 500 envelope too
    for router in (
        health.router,
        users.router,
        end_users.router,
        ingest.router,
        jobs.router,
        retrieval.router,
        deletion.router,
        summaries.router,
        sources.router,
        webhook_endpoints.router,
        webhooks.router,
        reprocess.router,
        metrics.router,
    ):
        app.include_router(router)
    app.openapi = partial(openapi.document, app)  # type: ignore[method-assign]
    if telemetry.setup("persona-gateway"):
        instrument_traces(app)
    return app


RAW_URL_ATTRIBUTES = ("url.path", "url.query", "url.full", "http.target", "http.url")
"""Span attributes that repeat the request's own path and query, which hold user ids."""


def route_not_path(span: Any, scope: dict[str, Any]) -> None:
    """A request's span keeps its route template (`/v1/end-users/{user_id}`) where the
    instrumentation put the path it was called with: a trace names no user."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    route = attributes.get("http.route", "")
    for name in RAW_URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, route if name in ("url.path", "http.target") else "")


def instrument_traces(app: FastAPI) -> None:
    """A span per request (probes and metrics excepted, unless
    `OTEL_PYTHON_FASTAPI_EXCLUDED_URLS` says otherwise), and the trace sent on with each
    task (Celery's task headers; httpx carries it on the direct reads)."""
    import os

    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", "healthz,readyz,metrics")
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=excluded, server_request_hook=route_not_path
    )
    CeleryInstrumentor().instrument()

"""Traces with OpenTelemetry, off unless the standard `OTEL_*` variables ask for them.

`setup` installs a tracer provider that exports over OTLP/HTTP (or to the console,
`OTEL_TRACES_EXPORTER=console`) and instruments what every process uses: SQLAlchemy,
Redis and httpx. Each adapter adds its own framework: the gateway FastAPI
(`api_gateway.main`), the workers Celery and their direct read server (`workers.app`,
`workers.reads`). Celery carries a trace in a task's headers, and httpx (or
`propagate`) in `traceparent`, so a request's trace goes on in the worker that serves it.

Nothing is imported, installed or sent while no exporter is configured: a plain
deployment pays one look at the environment per process.

The exporter reads the rest of the standard variables itself (`OTEL_EXPORTER_OTLP_*`,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline import logs

log = logging.getLogger("persona.telemetry")
_installed: list[bool] = []


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether traces are configured: an exporter named (other than `none`), or an OTLP
    endpoint given."""
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return any(environ.get(name) for name in endpoints)


def setup(service: str) -> bool:
    """Install tracing for this process as `service` (unless `OTEL_SERVICE_NAME` names it)
    where configured; idempotent. Returns whether traces are on, so the caller adds its
    framework's instrumentation."""
    if _installed:
        return True
    if not enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": service})
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _sampler()
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    SQLAlchemyInstrumentor().instrument()
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()

    def current_ids() -> dict[str, str]:
        span = trace.get_current_span().get_span_context()
        if not span.is_valid:
            return {}
        return {"trace_id": format(span.trace_id, "032x"), "span_id": format(span.span_id, "016x")}

    logs.trace_ids = current_ids
    _installed.append(True)
    log.info("traces on: exported as %s", resource.attributes.get("service.name"))
    return True


def propagate(headers: dict[str, str]) -> None:
    """Add the current trace's context (`traceparent`) to an outgoing request's `headers`,
    where traces are on: for a client no instrumentation covers (the gateway's aiohttp
    session to the workers' direct reads)."""
    if _installed:
        from opentelemetry.propagate import inject

        inject(headers)


def _exporter() -> Any:
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _sampler() -> Any:
    """Every trace a request or a task starts, and none that a client call starts on its
    own: a worker's broker polls Redis every second, outside any work."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
    )
    from opentelemetry.trace import SpanKind

    class NoLoneClientCalls(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Sequence[Any] | None = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            if kind == SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "NoLoneClientCalls"

    return ParentBased(root=NoLoneClientCalls())

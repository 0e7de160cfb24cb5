"""Logs and traces across processes: a request's ids in the gateway's JSON lines and in the
worker's lines of the task that served it, no user content in any line; traces only where
`OTEL_*` asks for them, one trace from the gateway's span to the worker's."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from ulid import ULID

from pipeline import telemetry
from tests.conftest import BOOTSTRAP_KEY, ChildProcess, System
from tests.helpers import events, wait_for, wait_job

SECRET = "The locker combination is 31-07-44 behind the blue door."


class Collector:
    """A stand-in for an OpenTelemetry collector: keeps every OTLP/HTTP export it gets."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, bytes]] = []
        received = self.exports

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[str, str, str]]:
        """(service, trace id, span name) of every span received."""
        found = []
        for path, body in list(self.exports):
            assert path == "/v1/traces"
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append((attributes["service.name"], span.trace_id.hex(), span.name))
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    stand_in = Collector()
    yield stand_in
    stand_in.server.shutdown()


def json_lines(child: ChildProcess) -> list[dict[str, Any]]:
    lines = []
    for line in child.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def client(system: System, request_id: str) -> httpx.Client:
    headers = {"X-API-Key": BOOTSTRAP_KEY, "X-Request-Id": request_id}
    return httpx.Client(base_url=system.url, headers=headers, timeout=30)


def test_a_requests_ids_reach_the_worker_and_no_user_content_is_logged(
    make_system, collector: Collector
) -> None:
    # Reads on the queue, whose task lines Celery logs with the task's arguments; an
    # endpoint, but traces turned off by name: nothing may reach it.
    system: System = make_system(
        PERSONA_LOG_FORMAT="json",
        PERSONA_READS_URL="",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_TRACES_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="50",
    )
    system.start_gateway()
    system.start_worker()
    assert system.gateway is not None
    assert system.worker is not None
    user, request_id = f"user-{uuid.uuid4().hex[:10]}", str(ULID())
    with client(system, request_id) as api:
        accepted = api.post("/ingest", json={"user_id": user, "events": events([SECRET])})
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["x-request-id"] == request_id
        job_id = accepted.json()["job_id"]
        assert wait_job(api, job_id)["status"] == "succeeded"
    read_id = str(ULID())
    with client(system, read_id) as api:
        found = api.post("/chunks", json={"user_id": user, "query": "locker combination"})
        assert found.status_code == 200, found.text
        assert SECRET in found.text

    def served(child: ChildProcess, request: str = request_id) -> list[dict[str, Any]]:
        return [line for line in json_lines(child) if line.get("request_id") == request]

    gateway_lines = wait_for(lambda: served(system.gateway), 30, "the gateway's request line")
    assert any(line["message"].startswith("POST /ingest 202") for line in gateway_lines)
    assert all(isinstance(line["org"], int) for line in gateway_lines)
    worker_lines = wait_for(lambda: served(system.worker), 30, "the worker's lines of the job")
    of_job = [line for line in worker_lines if line.get("job_id") == job_id]
    assert of_job, worker_lines
    assert all(isinstance(line["user_pk"], int) for line in of_job)
    assert {line["org"] for line in of_job} == {gateway_lines[0]["org"]}
    search = "persona.retrieval.search"
    wait_for(
        lambda: any(search in line["message"] for line in served(system.worker, read_id)),
        30,
        "the worker's line of the read",
    )

    for child in (system.gateway, system.worker):
        text = child.output()
        assert SECRET not in text, f"user content in {child.name}"
        assert "31-07-44" not in text, f"user content in {child.name}"
        assert user not in text, f"a user_id in {child.name}"
        assert "locker combination" not in text, f"a query in {child.name}"
        assert "traces on" not in text
    assert collector.exports == []


def test_a_requests_trace_goes_on_in_the_worker(make_system, collector: Collector) -> None:
    system: System = make_system(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="50",
        PERSONA_LOG_FORMAT="json",
    )
    system.start_gateway()
    system.start_worker()
    user = f"user-{uuid.uuid4().hex[:10]}"
    with client(system, str(ULID())) as api:
        accepted = api.post("/ingest", json={"user_id": user, "events": events([SECRET])})
        assert accepted.status_code == 202, accepted.text
        assert wait_job(api, accepted.json()["job_id"])["status"] == "succeeded"
        found = api.post("/chunks", json={"user_id": user, "query": "locker", "top_k": 1})
        assert found.status_code == 200, found.text
        assert api.get(f"/v1/end-users/{user}?who={user}").status_code == 200  # path and query

    def traced(gateway_span: str, worker_span: str) -> bool:
        spans = collector.spans()
        traces = {t for s, t, name in spans if s == "persona-gateway" and name == gateway_span}
        return any(
            s == "persona-worker" and t in traces and worker_span in name for s, t, name in spans
        )

    wait_for(lambda: traced("POST /ingest", "persona.ingest.run_job"), 30, "the ingest's trace")
    wait_for(lambda: traced("POST /chunks", "/reads/"), 30, "the direct read's trace")
    wait_for(
        lambda: any(n.startswith("GET /v1/end-users/") for *_, n in collector.spans()),
        30,
        "the span of the read that names the user in its path",
    )
    ingest_traces = {t for s, t, n in collector.spans() if n == "POST /ingest"}
    assert system.gateway is not None
    logged = {line.get("trace_id") for line in json_lines(system.gateway)}
    assert ingest_traces & logged, "the gateway's lines of the request lead to its trace"
    exported = b"".join(body for _, body in collector.exports)
    assert user.encode() not in exported, "a user_id in a span"
    assert SECRET.encode() not in exported, "user content in a span"


def test_traces_are_off_unless_configured() -> None:
    assert not telemetry.enabled({})
    assert not telemetry.enabled({"OTEL_SERVICE_NAME": "persona"})
    assert not telemetry.enabled(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}
    )
    assert telemetry.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert telemetry.enabled({"OTEL_TRACES_EXPORTER": "console"})

"""`GET /metrics`: one scrape of the gateway shows every process of the deployment (the
gateway's requests, the worker's tasks, the model's batches, the index's latency) and
the system's state, to an operator's key, naming no user."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from pipeline import keys
from pipeline.db.engine import session_scope
from tests.conftest import Tenant
from tests.helpers import ingest_one, wait_job

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "persona.json"

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def operator(gateway: str, engine: Engine, tenant: Tenant) -> Iterator[httpx.Client]:
    with session_scope(engine) as session:
        key = keys.create_key(session, tenant.org, ["operator"], "prometheus")
    with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_one_scrape_shows_requests_tasks_model_index_and_state(
    tenant: Tenant, operator: httpx.Client
) -> None:
    user = f"metrics-{uuid.uuid4().hex[:8]}"
    assert tenant.client.put("/register", json={"user_id": user}).status_code in (200, 201)
    before = samples(operator.get("/metrics").text)
    wait_job(tenant.client, ingest_one(tenant.client, user, "Dentist moved to Friday at 3"))
    found_chunks = tenant.client.post("/chunks", json={"user_id": user, "query": "dentist"})
    assert found_chunks.status_code == 200

    response = operator.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert user not in response.text
    assert "Dentist" not in response.text
    after = samples(response.text)
    grew = {
        "requests": (
            "http_requests_total",
            {"handler": "/chunks", "method": "POST", "status": "200"},
        ),
        "ingest task": (
            "persona_tasks_total",
            {"task": "persona.ingest.run_job", "outcome": "success"},
        ),
        "texts embedded": ("persona_embedded_texts_total", {"model": "minilm"}),
        "items indexed": ("persona_items_indexed_total", {"by": "ingest"}),
        "jobs ended": ("persona_jobs_ended_total", {"kind": "ingest", "status": "succeeded"}),
        "index writes": ("persona_index_seconds_count", {"operation": "upsert"}),
        "index reads": ("persona_index_seconds_count", {"operation": "hybrid"}),
    }
    for what, (name, labels) in grew.items():
        assert value(after, name, **labels) > value(before, name, **labels), what
    for queue in ("ingest", "retrieval", "summaries"):
        assert ("persona_queue_depth", frozenset({("queue", queue)})) in after
    assert ("persona_jobs", frozenset({("state", "queued")})) in after
    assert value(after, "persona_active_generation") >= 1


def test_metrics_are_for_an_operators_key_only(gateway: str, tenant: Tenant) -> None:
    assert httpx.get(f"{gateway}/metrics").status_code == 401
    refused = tenant.client.get("/metrics")  # read_write and admin, not operator
    assert refused.status_code == 403
    assert refused.json()["error"]["code"]


def test_the_grafana_dashboard_reads_only_metrics_the_system_serves(
    tenant: Tenant, operator: httpx.Client
) -> None:
    user = f"dashboard-{uuid.uuid4().hex[:8]}"
    tenant.client.put("/register", json={"user_id": user}).raise_for_status()
    wait_job(tenant.client, ingest_one(tenant.client, user, "Lunch with Sam on Tuesday"))
    tenant.client.post("/chunks", json={"user_id": user, "query": "lunch"}).raise_for_status()
    served = {name for name, _ in samples(operator.get("/metrics").text)}

    panels = json.loads(DASHBOARD.read_text())["panels"]
    asked = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"\b(?:persona|http)_[a-z_]+", target["expr"])
    }

    assert len(panels) >= 10
    assert asked
    assert asked <= served, f"the dashboard reads what /metrics does not serve: {asked - served}"

"""Tenant isolation, over every route of the app: a key of one organization can never read,
write, delete or see a user or a job of another.

The cases come from the app's route table (its OpenAPI document), so a new route is
covered by default: its path, query and body parameters are filled with the victim's
identifiers (a body from the route's own OpenAPI example). A route that names no user and no job is
listed in EXEMPT; a route that creates a user in the caller's own organization is
listed in CREATES. Every other route must answer the attacker 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api_gateway.main import create_app
from pipeline import keys
from pipeline.config import Settings
from pipeline.db.engine import session_scope
from pipeline.status import EventType
from pipeline.webhooks import endpoints, outbox, sources
from tests.helpers import wait_job

EXEMPT = {
    ("GET", "/healthz"),  # liveness: names no tenant
    ("GET", "/readyz"),  # readiness: names no tenant
}
# Creating a user of the same id in the caller's own organization is allowed; it must
# create a new user there, never reach the victim's.
CREATES = {("PUT", "/register"), ("POST", "/ingest"), ("POST", "/v1/end-users")}
# Webhook sources and endpoints are made in the caller's own organization (an endpoint on
# an address this machine cannot resolve is refused, 400); a listing shows only its own.
OWN = {("POST", "/v1/sources"): {201}, ("POST", "/v1/webhook-endpoints"): {201, 400}}
LISTS = {("GET", "/v1/sources"), ("GET", "/v1/webhook-endpoints"), ("GET", "/jobs")}
# A message to the victim's source, unsigned by its secret, is refused before anything.
SIGNED = {("POST", "/webhooks/{source_id}")}
# What every organization shares (the index generations) is the operator's alone.
OPERATOR = {("GET", "/v1/generations")}
# Reprocessing may name an organization: another one than the key's needs the operator.
NAMES_ORG = {
    ("POST", "/v1/reindex"),
    ("POST", "/v1/reindex/verify"),
    ("POST", "/v1/summaries/rebuild"),
}
VICTIM = "victim-user"
SECRET = f"secret-{uuid.uuid4().hex}"


def route_table() -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """Every operation of the app, from its OpenAPI document: the public route table,
    with each operation's parameters and body schema (the docs pages are not in it)."""
    app = create_app(Settings(database={"url": "postgresql+psycopg://unused"}))
    schema = app.openapi()
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    return schema, operations


SCHEMA, OPERATIONS = route_table()
CASES = [c for c in OPERATIONS if (c[0], c[1]) not in EXEMPT]


def test_the_route_table_is_read_whole() -> None:
    names = {(m, p) for m, p, _ in OPERATIONS}
    assert {("POST", "/delete"), ("GET", "/jobs/{job_id}"), ("POST", "/chunks")} <= names
    assert names >= EXEMPT, "an exempt route no longer exists: drop it from EXEMPT"


@dataclass
class Victim:
    org: str
    client: httpx.Client
    job_id: str
    items: int
    source_id: str
    endpoint_id: str
    delivery_id: int

    def ids(self) -> dict[str, str]:
        return {
            "user_id": VICTIM,
            "job_id": self.job_id,
            "source_id": self.source_id,
            "endpoint_id": self.endpoint_id,
            "delivery_id": str(self.delivery_id),
        }


def items_of(engine, org: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM items i JOIN organizations o ON o.id = i.org_id "
                "WHERE o.name = :org"
            ),
            {"org": org},
        ).scalar_one()


@pytest.fixture(scope="module")
def victim(gateway: str, engine, worker) -> Iterator[Victim]:
    org = f"victim-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        key = keys.create_key(session, org, ["read_write", "admin"], "victim")
    client = httpx.Client(base_url=gateway, headers={"X-API-Key": key}, timeout=30)
    client.put("/register", json={"user_id": VICTIM, "traits": {"secret": SECRET}})
    event = {"event_id": "e1", "timestamp": "2025-10-01T09:00:00Z", "content": SECRET}
    job_id = client.post("/ingest", json={"user_id": VICTIM, "events": [event]}).json()["job_id"]
    assert wait_job(client, job_id)["status"] == "succeeded"
    with session_scope(engine) as session:
        org_id = keys.org_id(session, org)
        source, _ = sources.create(session, org_id, "victim-crm", None)
        endpoint, _ = endpoints.create(
            session, org_id, "http://127.0.0.1:9/x", ["job.failed"], None, allow_private=True
        )
        source_id, endpoint_id = source.id, endpoint.id
        outbox.emit(session, org_id, EventType.JOB_FAILED, {"job_id": job_id})
    with engine.connect() as conn:
        delivery_id = conn.execute(
            text("SELECT id FROM webhook_deliveries WHERE endpoint_id = :e"), {"e": endpoint_id}
        ).scalar_one()
    yield Victim(org, client, job_id, items_of(engine, org), source_id, endpoint_id, delivery_id)
    client.close()


@pytest.fixture
def attacker(gateway: str, engine) -> Iterator[httpx.Client]:
    with session_scope(engine) as session:
        key = keys.create_key(session, f"attacker-{uuid.uuid4().hex[:8]}", ["read_write", "admin"])
    with httpx.Client(base_url=gateway, headers={"X-API-Key": key}, timeout=30) as client:
        yield client


def body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    return SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else content["schema"]


def request_for(method: str, path: str, operation: dict[str, Any], victim: Victim) -> dict:
    """The request a curious tenant would send: every identifier is the victim's."""
    values = victim.ids()
    params = {}
    for param in operation.get("parameters", []):
        name, where = param["name"], param["in"]
        if where == "path":
            assert name in values, f"teach this test the path parameter {name!r}"
            path = path.replace("{" + name + "}", values[name])
        elif where == "query" and name in values:
            params[name] = values[name]
        else:
            assert not param.get("required"), f"teach this test the parameter {name!r}"
    json = None
    schema = body_schema(operation)
    if schema is not None:
        example = (schema.get("examples") or [{}])[0]
        fields = schema.get("properties", {})
        json = {**example, **{k: v for k, v in values.items() if k in fields}}
    return {"method": method, "url": path, "params": params, "json": json}


@pytest.mark.parametrize(
    ("method", "path", "operation"), CASES, ids=[f"{m} {p}" for m, p, _ in CASES]
)
def test_no_route_crosses_organizations(
    method: str,
    path: str,
    operation: dict[str, Any],
    victim: Victim,
    attacker: httpx.Client,
    engine,
) -> None:
    response = attacker.request(**request_for(method, path, operation, victim))
    assert SECRET not in response.text
    if (method, path) in OWN:
        assert response.status_code in OWN[(method, path)], response.text
    elif (method, path) in LISTS:
        assert response.status_code == 200, response.text
        assert victim.source_id not in response.text
        assert victim.endpoint_id not in response.text
        assert victim.job_id not in response.text
    elif (method, path) in OPERATOR:
        assert response.status_code == 403, response.text
    elif (method, path) in SIGNED:
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
    elif (method, path) in CREATES:
        assert response.status_code in {200, 201, 202}, response.text
        if (method, path) == ("POST", "/v1/end-users"):
            assert response.status_code == 201  # a new user of its own, not the victim
    else:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] in {"USER_NOT_FOUND", "NOT_FOUND"}

    # The victim's user, data and job are exactly as they were.
    user = victim.client.get(f"/v1/end-users/{VICTIM}").json()
    assert user["metadata"] == {"secret": SECRET}
    assert user["status"] == "active"
    assert victim.client.get(f"/jobs/{victim.job_id}").json()["status"] == "succeeded"
    assert items_of(engine, victim.org) == victim.items
    assert [s["source_id"] for s in victim.client.get("/v1/sources").json()["sources"]] == [
        victim.source_id
    ]
    listed = victim.client.get("/v1/webhook-endpoints").json()["endpoints"]
    assert [e["endpoint_id"] for e in listed] == [victim.endpoint_id]
    found = victim.client.post("/chunks", json={"user_id": VICTIM, "query": "secret"}).json()
    assert len(found["chunks"]) == 1
    assert found["chunks"][0]["text"].endswith(SECRET)  # after any dated header


@pytest.mark.parametrize("path", sorted(p for _, p in NAMES_ORG))
def test_reprocessing_another_organization_needs_the_operator(
    path: str, victim: Victim, attacker: httpx.Client
) -> None:
    for body in ({"org_id": victim.org}, {"org_id": victim.org, "user_id": VICTIM}):
        response = attacker.post(path, json=body)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "FORBIDDEN"
    assert attacker.post(path, json={}).status_code == 403  # everything: the operator's too

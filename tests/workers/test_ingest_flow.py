"""Ingestion end to end on real processes: HTTP → PostgreSQL → Redis → worker → index.

Each test checks what a user would: the job's outcome, the search results, and
the user's footprint in every store (items and chunk rows in PostgreSQL, points
in the index), which must match exactly: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from pipeline import keys
from pipeline.db.engine import session_scope
from pipeline.messages import IngestJob, Task
from tests.conftest import System, Tenant
from tests.helpers import FACTS, events, footprint, long_document, wait_for, wait_job


def test_ingested_items_become_searchable(worker, tenant: Tenant) -> None:
    body = {
        "user_id": "ash",
        "source": "chat",
        "events": events(FACTS),
        "documents": [{"document_id": "doc_1", "title": "Q3", "content": long_document("hiring")}],
    }
    answer = tenant.client.post("/ingest", json=body).json()
    job = wait_job(tenant.client, answer["job_id"])
    assert job["status"] == "succeeded", job
    assert job["counts"]["items"] == 6
    assert job["counts"]["chunks"] > 6, "the long document is split into several chunks"
    assert {"embed_ms", "write_ms", "total_ms"} <= set(job["timings"])

    found = tenant.client.post(
        "/chunks", json={"user_id": "ash", "query": "when is my sister's birthday dinner?"}
    ).json()["chunks"]
    assert found[0]["event_id"] == "evt_1"
    assert found[0]["text"] == f"2025-10-02 (chat message): {FACTS[1]}", "dated, with its origin"
    assert found[0]["source"] == "chat"
    assert found[0]["timestamp"].startswith("2025-10-02")

    counts = footprint(tenant.client, "ash")
    assert counts == {
        "items": 6,
        "chunks": job["counts"]["chunks"],
        "points": job["counts"]["chunks"],
    }


def test_resent_items_are_not_stored_or_embedded_again(worker, tenant: Tenant) -> None:
    first = tenant.client.post("/ingest", json={"user_id": "u", "events": events(FACTS)}).json()
    wait_job(tenant.client, first["job_id"])
    before = footprint(tenant.client, "u")
    again = tenant.client.post("/ingest", json={"user_id": "u", "events": events(FACTS)}).json()
    assert again["duplicates"] == len(FACTS)
    assert wait_job(tenant.client, again["job_id"])["counts"]["chunks"] == 0
    assert footprint(tenant.client, "u") == before == {"items": 5, "chunks": 5, "points": 5}


def test_new_document_content_replaces_its_old_chunks(worker, tenant: Tenant) -> None:
    doc = {"document_id": "plan", "content": long_document("zeppelin")}
    job = wait_job(
        tenant.client,
        tenant.client.post("/ingest", json={"user_id": "d", "documents": [doc]}).json()["job_id"],
    )
    assert job["counts"]["chunks"] > 3
    short = {"document_id": "plan", "content": "The plan is now one line about submarines."}
    answer = tenant.client.post("/ingest", json={"user_id": "d", "documents": [short]}).json()
    assert answer["ingested"]["documents"] == 1
    wait_job(tenant.client, answer["job_id"])
    assert footprint(tenant.client, "d") == {"items": 1, "chunks": 1, "points": 1}
    found = tenant.client.post(
        "/chunks", json={"user_id": "d", "query": "zeppelin plan", "top_k": 10}
    ).json()["chunks"]
    assert [c["text"] for c in found] == [f"undated (api document): {short['content']}"]


def ingest_runs(operator: httpx.Client) -> float:
    """Ingest messages the deployment's workers have run to their end (`GET /metrics`)."""
    for family in text_string_to_metric_families(operator.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "persona_tasks_total" and sample.labels == RAN_INGEST:
                return sample.value
    return 0.0


RAN_INGEST = {"task": Task.INGEST.value, "outcome": "success"}


def test_the_same_task_delivered_twice_leaves_one_copy(
    worker, tenant: Tenant, producer, engine: Engine, system: System
) -> None:
    with session_scope(engine) as session:
        key = keys.create_key(session, tenant.org, ["operator"], "prometheus")
    operator = httpx.Client(base_url=system.url, headers={"Authorization": f"Bearer {key}"})
    before = ingest_runs(operator)
    answer = tenant.client.post("/ingest", json={"user_id": "t", "events": events(FACTS)}).json()
    for _ in range(2):  # racing the original
        producer.send_task(Task.INGEST, kwargs=IngestJob(job_id=answer["job_id"]).model_dump())
    job = wait_job(tenant.client, answer["job_id"])
    assert job["status"] == "succeeded"
    wait_for(lambda: ingest_runs(operator) >= before + 3, what="all three messages run")
    assert job["attempts"] == 1, "claimed once: the other messages found it taken or done"
    assert footprint(tenant.client, "t") == {"items": 5, "chunks": 5, "points": 5}


def test_filters_and_unknown_user(worker, tenant: Tenant) -> None:
    body = {"user_id": "f", "source": "gmail", "events": events(FACTS)}
    wait_job(tenant.client, tenant.client.post("/ingest", json=body).json()["job_id"])
    cal = {
        "user_id": "f",
        "source": "calendar",
        "events": events(["Team offsite in Porto."], "cal"),
    }
    wait_job(tenant.client, tenant.client.post("/ingest", json=cal).json()["job_id"])
    only_calendar = tenant.client.post(
        "/chunks", json={"user_id": "f", "query": "dentist", "sources": ["calendar"]}
    ).json()["chunks"]
    assert [c["source"] for c in only_calendar] == ["calendar"]
    missing = tenant.client.post("/chunks", json={"user_id": "nobody", "query": "x"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "USER_NOT_FOUND"

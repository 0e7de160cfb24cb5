"""Ingestion end to end on real processes: HTTP → PostgreSQL → Redis → worker → index.

Each test checks what a user would: the job's outcome, the search results, and
the user's footprint in every store (items and chunk rows in PostgreSQL, points
in the index), which must match exactly: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from pipeline.messages import Footprint, IngestJob, Task
from tests.conftest import System, Tenant

START = datetime(2025, 10, 1, 9, 0, tzinfo=UTC)
FACTS = [
    "Let's move stand-up to 2 PM starting next week.",
    "My sister Maya's birthday dinner is at Casa Lupita on Friday.",
    "The dentist appointment is moved to Tuesday morning at 8.",
    "I prefer window seats on long flights, never the aisle.",
    "Reminder: renew the car insurance with Allianz before November.",
]


def events(facts: list[str], prefix: str = "evt") -> list[dict]:
    return [
        {
            "event_id": f"{prefix}_{i}",
            "type": "message",
            "timestamp": (START + timedelta(days=i)).isoformat(),
            "content": fact,
        }
        for i, fact in enumerate(facts)
    ]


def long_document(words: str, paragraphs: int = 12) -> str:
    return "\n\n".join(
        " ".join(f"Section {p} sentence {i}: the {words} plan needs review." for i in range(8))
        for p in range(paragraphs)
    )


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in {"succeeded", "failed"}:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def org_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM organizations WHERE name = :n"), {"n": name}
        ).scalar_one()


def footprint(system: System, engine, tenant: Tenant, user_id: str) -> dict[str, int]:
    return system.call(
        Task.FOOTPRINT, Footprint(org_id=org_id(engine, tenant.org), user_id=user_id)
    )


def test_ingested_items_become_searchable(system: System, worker, tenant: Tenant, engine) -> None:
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

    counts = footprint(system, engine, tenant, "ash")
    assert counts == {
        "items": 6,
        "chunks": job["counts"]["chunks"],
        "points": job["counts"]["chunks"],
    }


def test_resent_items_are_not_stored_or_embedded_again(
    system: System, worker, tenant: Tenant, engine
) -> None:
    first = tenant.client.post("/ingest", json={"user_id": "u", "events": events(FACTS)}).json()
    wait_job(tenant.client, first["job_id"])
    before = footprint(system, engine, tenant, "u")
    again = tenant.client.post("/ingest", json={"user_id": "u", "events": events(FACTS)}).json()
    assert again["duplicates"] == len(FACTS)
    assert wait_job(tenant.client, again["job_id"])["counts"]["chunks"] == 0
    assert (
        footprint(system, engine, tenant, "u") == before == {"items": 5, "chunks": 5, "points": 5}
    )


def test_new_document_content_replaces_its_old_chunks(
    system: System, worker, tenant: Tenant, engine
) -> None:
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
    assert footprint(system, engine, tenant, "d") == {"items": 1, "chunks": 1, "points": 1}
    found = tenant.client.post(
        "/chunks", json={"user_id": "d", "query": "zeppelin plan", "top_k": 10}
    ).json()["chunks"]
    assert [c["text"] for c in found] == [f"undated (api document): {short['content']}"]


def test_the_same_task_delivered_twice_leaves_one_copy(
    system: System, worker, tenant: Tenant, engine, producer
) -> None:
    answer = tenant.client.post("/ingest", json={"user_id": "t", "events": events(FACTS)}).json()
    for _ in range(2):  # redeliveries racing the original
        producer.send_task(Task.INGEST, kwargs=IngestJob(job_id=answer["job_id"]).model_dump())
    job = wait_job(tenant.client, answer["job_id"])
    time.sleep(1.0)  # let the duplicate deliveries finish too
    assert job["status"] == "succeeded"
    assert footprint(system, engine, tenant, "t") == {"items": 5, "chunks": 5, "points": 5}


def test_filters_and_unknown_user(system: System, worker, tenant: Tenant) -> None:
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

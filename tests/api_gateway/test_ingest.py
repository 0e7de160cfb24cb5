"""`POST /ingest` at the gateway: validation, limits, duplicates, durability before the answer."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import Tenant, set_user_status

EVENT = {
    "event_id": "evt_1",
    "type": "email",
    "timestamp": "2025-10-10T09:00:00Z",
    "content": "Let's move stand-up to 2 PM starting next week.",
}


def events(n: int, prefix: str = "e") -> list[dict]:
    return [
        {**EVENT, "event_id": f"{prefix}{i}", "content": f"Message number {i} about the plan."}
        for i in range(n)
    ]


def stored(engine, org: str, user_id: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT i.kind, i.external_id, i.content FROM items i "
                    "JOIN users u ON u.id = i.user_pk JOIN organizations o ON o.id = u.org_id "
                    "WHERE o.name = :org AND u.user_id = :user ORDER BY i.id"
                ),
                {"org": org, "user": user_id},
            )
        ]


def test_seed_example_is_accepted_and_durable(tenant: Tenant, engine) -> None:
    body = {"user_id": "usr_42af7c", "source": "gmail", "events": [EVENT]}
    response = tenant.client.post("/ingest", json=body)
    assert response.status_code == 202
    answer = response.json()
    assert answer["ingested"] == {"events": 1, "documents": 0}
    assert answer["duplicates"] == 0
    assert answer["job_id"]
    assert answer["updated_at"]
    # Durable before the answer: the row and its job are committed already.
    assert stored(engine, tenant.org, "usr_42af7c") == [("event", "evt_1", EVENT["content"])]
    job = tenant.client.get(f"/jobs/{answer['job_id']}").json()
    assert job["status"] in {"queued", "running", "succeeded"}
    assert job["counts"]["items"] == 1


def test_unknown_user_is_created(tenant: Tenant) -> None:
    tenant.client.post("/ingest", json={"user_id": "fresh", "events": [EVENT]})
    assert tenant.client.get("/v1/end-users/fresh").status_code == 200


def test_resent_events_are_duplicates_not_stored_twice(tenant: Tenant, engine) -> None:
    first = tenant.client.post("/ingest", json={"user_id": "u", "events": events(3)}).json()
    assert first["ingested"]["events"] == 3
    again = tenant.client.post(
        "/ingest", json={"user_id": "u", "events": [*events(3), *events(2, "new")]}
    ).json()
    assert again["ingested"]["events"] == 2
    assert again["duplicates"] == 3
    assert len(stored(engine, tenant.org, "u")) == 5


def test_same_event_twice_in_one_request_is_one_item(tenant: Tenant, engine) -> None:
    answer = tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT, EVENT]}).json()
    assert answer["ingested"]["events"] == 1
    assert answer["duplicates"] == 1
    assert len(stored(engine, tenant.org, "u")) == 1


def test_all_duplicates_finish_the_job_at_once(tenant: Tenant) -> None:
    tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT]})
    answer = tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT]}).json()
    job = tenant.client.get(f"/jobs/{answer['job_id']}").json()
    assert job["status"] == "succeeded"
    assert job["counts"] == {"items": 0, "chunks": 0, "duplicates": 1}


def test_document_same_content_is_duplicate_new_content_replaces(tenant: Tenant, engine) -> None:
    doc = {"document_id": "d1", "title": "Plan", "content": "Version one."}
    assert tenant.client.post("/ingest", json={"user_id": "u", "documents": [doc]}).json()[
        "ingested"
    ] == {"events": 0, "documents": 1}
    same = tenant.client.post("/ingest", json={"user_id": "u", "documents": [doc]}).json()
    assert same["duplicates"] == 1
    changed = {**doc, "content": "Version two."}
    answer = tenant.client.post("/ingest", json={"user_id": "u", "documents": [changed]}).json()
    assert answer["ingested"]["documents"] == 1
    assert stored(engine, tenant.org, "u") == [("document", "d1", "Version two.")]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**EVENT, "timestamp": "2025-10-10T09:00:00"}, "Invalid field events.1.timestamp"),
        ({**EVENT, "timestamp": "yesterday"}, "Invalid field events.1.timestamp"),
        (
            {k: v for k, v in EVENT.items() if k != "event_id"},
            "Missing required field: events.1.event_id",
        ),
        ({**EVENT, "content": ""}, "Invalid field events.1.content"),
    ],
)
def test_bad_items_are_400_naming_item_and_field(tenant: Tenant, event: dict, message: str) -> None:
    response = tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT, event]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(message)


def test_naive_timestamp_message_says_what_is_missing(tenant: Tenant) -> None:
    bad = {**EVENT, "timestamp": "2025-10-10T09:00:00"}
    response = tenant.client.post("/ingest", json={"user_id": "u", "events": [bad]})
    assert "timezone" in response.json()["error"]["message"]


def test_empty_request_is_400(tenant: Tenant) -> None:
    response = tenant.client.post("/ingest", json={"user_id": "u"})
    assert response.status_code == 400
    assert "Nothing to ingest" in response.json()["error"]["message"]


def test_too_many_items_is_413(tenant: Tenant, engine) -> None:
    response = tenant.client.post("/ingest", json={"user_id": "big", "events": events(1001)})
    assert response.status_code == 413
    assert "1001 items" in response.json()["error"]["message"]
    assert tenant.client.get("/v1/end-users/big").status_code == 404, "nothing was changed"


def test_event_over_64kb_is_413_naming_it(tenant: Tenant) -> None:
    big = {**EVENT, "event_id": "huge", "content": "x" * (64 * 1024 + 1)}
    response = tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT, big]})
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "events[1].content" in message
    assert "'huge'" in message


def test_document_over_5mb_is_413(tenant: Tenant) -> None:
    doc = {"document_id": "d", "content": "y" * (5 * 1024 * 1024 + 1)}
    response = tenant.client.post("/ingest", json={"user_id": "u", "documents": [doc]})
    assert response.status_code == 413
    assert "documents[0].content" in response.json()["error"]["message"]


def test_deleting_user_is_409_and_nothing_stored(tenant: Tenant, engine) -> None:
    tenant.client.put("/register", json={"user_id": "gone"})
    set_user_status(engine, tenant.org, "gone", "deleting")
    response = tenant.client.post("/ingest", json={"user_id": "gone", "events": [EVENT]})
    assert response.status_code == 409
    assert stored(engine, tenant.org, "gone") == []


def test_read_key_cannot_ingest(tenant: Tenant) -> None:
    assert (
        tenant.reader.post("/ingest", json={"user_id": "u", "events": [EVENT]}).status_code == 403
    )


def test_another_orgs_job_is_404(tenant: Tenant, gateway: str, engine) -> None:
    import httpx

    from pipeline import keys
    from pipeline.db.engine import session_scope

    job_id = tenant.client.post("/ingest", json={"user_id": "u", "events": [EVENT]}).json()[
        "job_id"
    ]
    with session_scope(engine) as session:
        other = keys.create_key(session, tenant.org + "-x", ["read_write"])
    response = httpx.get(f"{gateway}/jobs/{job_id}", headers={"X-API-Key": other})
    assert response.status_code == 404
    assert tenant.client.get("/jobs/01JAB3Y0K6Q5W7S9V2X4Z8M1NC").status_code == 404

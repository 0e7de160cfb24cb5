"""`GET /v1/end-users/{user_id}/export`: everything held about a user as NDJSON, streamed:
the user's traits, every item, its stored summaries and its jobs; 404 for an unknown user."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Engine

from tests.conftest import ChildProcess, Tenant
from tests.helpers import events, org_client, wait_for, wait_job


def _export(client, user_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get(f"/v1/end-users/{user_id}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_export_holds_traits_items_summaries_and_jobs(
    tenant: Tenant, worker: ChildProcess, engine: Engine
) -> None:
    user_id = f"ex-{uuid.uuid4().hex[:10]}"
    tenant.client.put("/register", json={"user_id": user_id, "traits": {"name": "Ash"}})
    body = {
        "user_id": user_id,
        "events": events(["Prefers window seats.", "Allergic to peanuts."]),
        "documents": [{"document_id": "doc_1", "title": "Policy", "content": "Travel policy."}],
        "source": "test",
    }
    job_id = tenant.client.post("/ingest", json=body).json()["job_id"]
    assert wait_job(tenant.client, job_id)["status"] == "succeeded"
    assert tenant.client.get("/summary", params={"user_id": user_id}).status_code == 200

    lines = wait_for(
        lambda: (
            (found := _export(tenant.reader, user_id))
            and any(r["kind"] == "summary" for r in found)
            and found
        ),
        what="the stored summary in the export",
    )
    assert lines[0]["kind"] == "user"
    assert lines[0]["user_id"] == user_id
    assert lines[0]["metadata"] == {"name": "Ash"}
    items = [r for r in lines if r["kind"] == "item"]
    assert sorted(r["content"] for r in items) == [
        "Allergic to peanuts.",
        "Prefers window seats.",
        "Travel policy.",
    ]
    assert {r["id"] for r in items} == {"evt_0", "evt_1", "doc_1"}
    assert {r["item_kind"] for r in items} == {"event", "document"}
    assert [r["purpose"] for r in lines if r["kind"] == "summary"] == ["general"]
    jobs = [r for r in lines if r["kind"] == "job"]
    assert [(j["job_id"], j["job_kind"], j["status"]) for j in jobs] == [
        (job_id, "ingest", "succeeded")
    ]

    other = org_client(str(tenant.client.base_url).rstrip("/"), engine)
    assert other.get(f"/v1/end-users/{user_id}/export").status_code == 404
    other.close()


def test_unknown_user_is_404(tenant: Tenant) -> None:
    response = tenant.client.get("/v1/end-users/nobody-here/export")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "USER_NOT_FOUND"

"""`GET /summary` end to end on real processes."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.summaries import ash
from tests.workers.test_ingest_flow import wait_job


def setup_ash(tenant: Tenant, user_id: str = "ash") -> None:
    assert (
        tenant.client.put("/register", json={"user_id": user_id, "traits": ash.TRAITS}).status_code
        == 200
    )
    answer = tenant.client.post("/ingest", json={"user_id": user_id, "events": ash.events()}).json()
    assert wait_job(tenant.client, answer["job_id"])["status"] == "succeeded"


def test_smoke(worker, tenant: Tenant) -> None:
    setup_ash(tenant)
    for purpose in [
        "general",
        "work-style",
        "preferences",
        "schedule-context",
        "communication-style",
        "decision-style",
        "persona",
        "travel plans",
    ]:
        r = tenant.client.get("/summary", params={"user_id": "ash", "purpose": purpose})
        print(purpose, r.status_code, r.headers.get("etag"))
        print(r.json()["summary"])
        print()

"""`GET /jobs`: the organization's jobs, filtered by status, user and kind, a page at a
time behind an opaque cursor; bad input is the contract's 400 envelope."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from tests.conftest import ChildProcess, Tenant
from tests.helpers import ingest_one, org_client, wait_job


def _all(tenant: Tenant, **params: object) -> list[dict]:
    found, cursor = [], None
    while True:
        page = tenant.client.get(
            "/jobs", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        found.extend(body["jobs"])
        if (cursor := body["next_cursor"]) is None:
            return found


def test_filters_and_pages(tenant: Tenant, worker: ChildProcess, engine: Engine) -> None:
    alice, bob = f"jl-{uuid.uuid4().hex[:8]}", f"jl-{uuid.uuid4().hex[:8]}"
    ids = [ingest_one(tenant.client, alice, f"fact {i}") for i in range(3)]
    ids.append(ingest_one(tenant.client, bob, "bob's fact"))
    for job_id in ids:
        assert wait_job(tenant.client, job_id)["status"] == "succeeded"

    everything = _all(tenant, limit=2)
    assert [j["job_id"] for j in everything] == sorted(ids, reverse=True)  # newest first
    assert {j["job_id"] for j in _all(tenant, user_id=alice)} == set(ids[:3])
    assert {j["job_id"] for j in _all(tenant, status="succeeded", kind="ingest")} == set(ids)
    assert _all(tenant, status="failed") == []
    assert _all(tenant, kind="delete") == []

    erase = tenant.client.post("/delete", json={"user_id": bob}).json()["job_id"]
    deletes = _all(tenant, kind="delete", user_id=bob)
    assert [j["job_id"] for j in deletes] == [erase]

    first = tenant.client.get("/jobs", params={"limit": 1}).json()
    assert len(first["jobs"]) == 1
    assert first["next_cursor"]
    assert tenant.reader.get("/jobs").status_code == 200  # a read key lists too

    other = org_client(tenant.client.base_url.__str__().rstrip("/"), engine)
    assert other.get("/jobs").json() == {"jobs": [], "next_cursor": None}
    other.close()


def test_bad_input_is_the_400_envelope(tenant: Tenant) -> None:
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "am9iczp4"},  # "jobs:x": the right wrapping, no job id in it
        {"status": "sleeping"},
        {"kind": "nap"},
        {"limit": 0},
        {"limit": 10_000},
    ):
        response = tenant.client.get("/jobs", params=params)
        assert response.status_code == 400, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "INVALID_REQUEST", params
        assert error["request_id"], params

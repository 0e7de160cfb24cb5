"""Deleting a user end to end on real processes: HTTP → job → worker → every store empty.

What a user would check: the 202 and its job, the erasure report the job shows,
404 everywhere afterwards, nothing left in PostgreSQL, the index or Redis, the
other users of the same organization untouched, and a fresh start on re-register.
"""

from __future__ import annotations

import time

import httpx
import redis
from sqlalchemy import text

from tests.conftest import BOOTSTRAP_KEY, System, Tenant
from tests.helpers import (
    FACTS,
    FAST_SWEEP,
    ZERO,
    events,
    footprint,
    long_document,
    org_id,
    residue,
    rows_of,
    user_pk,
    wait_for,
    wait_job,
)

# No endpoint subscribed: no event was kept for the user.
NO_WEBHOOKS = {"webhook_attempts": 0, "webhook_deliveries": 0, "webhook_events": 0}


def ingest(client: httpx.Client, user_id: str, prefix: str = "evt") -> str:
    body = {
        "user_id": user_id,
        "events": events(FACTS, prefix),
        "documents": [{"document_id": "plan", "content": long_document("erasure")}],
    }
    response = client.post("/ingest", json=body)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_delete_erases_one_user_everywhere_and_only_that_user(
    system: System, worker, tenant: Tenant, engine
) -> None:
    ingest_jobs = {}
    for user_id in ("gone", "kept"):
        tenant.client.put("/register", json={"user_id": user_id, "traits": {"name": user_id}})
        ingest_jobs[user_id] = ingest(tenant.client, user_id)
        assert wait_job(tenant.client, ingest_jobs[user_id])["status"] == "succeeded"
    gone_pk, kept_pk = user_pk(engine, tenant.org, "gone"), user_pk(engine, tenant.org, "kept")
    cache = redis.Redis.from_url(system.redis_url)
    for pk in (gone_pk, kept_pk):  # what a cache of the user's data would hold
        cache.set(f"persona:user:{pk}:summary:general", "cached text")
        cache.set(f"persona:user:{pk}:debounce", "1")
    kept_before = footprint(tenant.client, "kept")
    held = tenant.client.get("/v1/end-users/gone/footprint").json()
    assert held["user_id"] == "gone"
    assert held["postgres"] == {
        "items": 6,
        "chunks": kept_before["chunks"],
        "summaries": 0,
        "users": 1,
        **NO_WEBHOOKS,
    }
    assert held["qdrant_points"] == kept_before["chunks"]
    assert held["redis_keys"] >= 2  # the two keys set above, and any refresh marks
    assert tenant.reader.get("/v1/end-users/gone/footprint").status_code == 403, "admins only"
    org = org_id(engine, tenant.org)
    assert residue(system.call, org, gone_pk)["qdrant_points"] > 0
    # A summary: a row and its hot copy. Let the refresh that the ingestion scheduled pass
    # first, so its marks (keys of their own) are gone and the counts below are exact.
    assert tenant.client.get("/summary", params={"user_id": "gone"}).status_code == 200
    wait_for(
        lambda: not cache.exists(f"persona:user:{gone_pk}:summary-due"),
        timeout=30,
        what="the scheduled refresh to pass",
    )

    response = tenant.client.post("/delete", json={"user_id": "gone"})
    assert response.status_code == 202
    answer = response.json()
    assert answer["user_id"] == "gone"
    assert answer["status"] == "deleting"
    job = wait_job(tenant.client, answer["job_id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "delete"
    report = job["result"]
    chunks = kept_before["chunks"]  # both users ingested the same items
    assert report["removed"]["postgres"] == {
        "items": 6,
        "chunks": chunks,
        "summaries": 1,
        "users": 1,
        "job_user_ids_scrubbed": 1,
        **NO_WEBHOOKS,
    }
    # The record of past work stays, without the user's id (it may be an e-mail address).
    assert tenant.client.get(f"/jobs/{ingest_jobs['gone']}").json()["user_id"] == "[erased]"
    assert tenant.client.get(f"/jobs/{ingest_jobs['kept']}").json()["user_id"] == "kept"
    assert report["removed"]["qdrant_points"] == chunks
    assert report["removed"]["redis_keys"] == 3
    assert report["recheck"] == ZERO

    # 404 everywhere for the user, and nothing of it in any store.
    assert tenant.client.get("/v1/end-users/gone").status_code == 404
    assert tenant.client.post("/chunks", json={"user_id": "gone", "query": "x"}).status_code == 404
    assert tenant.client.get("/summary", params={"user_id": "gone"}).status_code == 404
    assert tenant.client.post("/delete", json={"user_id": "gone"}).status_code == 404
    assert tenant.client.delete("/v1/end-users/gone").status_code == 404
    assert tenant.client.patch("/v1/end-users/gone", json={"metadata": {}}).status_code == 404
    assert tenant.client.get("/v1/end-users/gone/footprint").status_code == 404
    assert residue(system.call, org, gone_pk) == ZERO
    assert set(rows_of(engine, gone_pk).values()) == {0}

    # The other user of the same organization is whole.
    assert footprint(tenant.client, "kept") == kept_before
    assert (
        cache.exists(f"persona:user:{kept_pk}:summary:general", f"persona:user:{kept_pk}:debounce")
        == 2
    )
    found = tenant.client.post("/chunks", json={"user_id": "kept", "query": "sister birthday"})
    assert found.json()["chunks"][0]["text"].endswith(FACTS[1])  # after any dated header
    assert tenant.client.get("/v1/end-users/kept").json()["metadata"] == {"name": "kept"}

    # Registering the same id again starts from nothing.
    again = tenant.client.put("/register", json={"user_id": "gone"})
    assert again.status_code == 200
    assert user_pk(engine, tenant.org, "gone") != gone_pk
    assert tenant.client.get("/v1/end-users/gone").json()["metadata"] == {}
    assert (
        tenant.client.post("/chunks", json={"user_id": "gone", "query": "sister"}).json()["chunks"]
        == []
    )
    assert footprint(tenant.client, "gone") == {"items": 0, "chunks": 0, "points": 0}


def test_delete_end_user_route_does_the_same(
    system: System, worker, tenant: Tenant, engine
) -> None:
    wait_job(tenant.client, ingest(tenant.client, "e"))
    pk = user_pk(engine, tenant.org, "e")
    response = tenant.client.delete("/v1/end-users/e")
    assert response.status_code == 202
    job = wait_job(tenant.client, response.json()["job_id"])
    assert job["status"] == "succeeded"
    assert job["result"]["recheck"] == ZERO
    assert tenant.client.get("/v1/end-users/e").status_code == 404
    assert residue(system.call, org_id(engine, tenant.org), pk) == ZERO


def test_unknown_user_and_readers(tenant: Tenant) -> None:
    missing = tenant.client.post("/delete", json={"user_id": "nobody"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "USER_NOT_FOUND"
    tenant.client.put("/register", json={"user_id": "r"})
    assert tenant.reader.post("/delete", json={"user_id": "r"}).status_code == 403
    assert tenant.reader.delete("/v1/end-users/r").status_code == 403
    assert tenant.client.post("/delete", json={}).status_code == 400
    assert tenant.client.get("/v1/end-users/r").json()["status"] == "active"


def test_writes_refused_while_deleting_and_a_lost_delete_job_is_swept_back(
    make_system, engine
) -> None:
    """No worker at first: the user stays `deleting`, every write answers 409 and a
    repeated delete returns the same job. Then Redis loses the message; the sweeper
    re-publishes it and the erasure completes."""
    system = make_system(**FAST_SWEEP)
    system.start_gateway()
    api = httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)
    user = "sweep-delete"
    api.put("/register", json={"user_id": user, "traits": {"a": 1}})
    ingest_job = ingest(api, user)
    first = api.post("/delete", json={"user_id": user})
    assert first.status_code == 202
    job_id = first.json()["job_id"]
    assert api.post("/delete", json={"user_id": user}).json()["job_id"] == job_id
    assert api.delete(f"/v1/end-users/{user}").json()["job_id"] == job_id

    assert api.get(f"/v1/end-users/{user}").json()["status"] == "deleting"
    writes = [
        api.put("/register", json={"user_id": user, "traits": {"a": 2}}),
        api.post("/ingest", json={"user_id": user, "events": events(["more"], "late")}),
        api.post("/v1/end-users", json={"user_id": user}),
        api.patch(f"/v1/end-users/{user}", json={"metadata": {"a": 3}}),
    ]
    for response in writes:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "USER_DELETING"
    assert api.get(f"/jobs/{job_id}").json()["status"] == "queued"

    redis.Redis.from_url(system.redis_url).flushdb()  # every message is gone
    system.start_worker()
    system.start_beat()
    job = wait_job(api, job_id, timeout=90)
    assert job["status"] == "succeeded", job
    assert job["result"]["removed"]["postgres"]["items"] == 6
    assert wait_job(api, ingest_job, timeout=90)["status"] == "failed"
    assert api.get(f"/v1/end-users/{user}").status_code == 404


def test_writes_answer_409_until_the_erasure_has_ended(make_system, engine) -> None:
    """A write that re-creates the user is answered only once the erasure job has ended:
    until then every write answers USER_DELETING, as the deletion request promised."""
    system = make_system()
    system.start_gateway()
    system.start_worker()
    api = httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)
    assert wait_job(api, ingest(api, "late"))["status"] == "succeeded"
    job_id = api.post("/delete", json={"user_id": "late"}).json()["job_id"]
    answered: list[tuple[float, int]] = []
    while not answered or answered[-1][1] != 200:
        status = api.put("/register", json={"user_id": "late"}).status_code
        answered.append((time.time(), status))
        assert status in {200, 409}, status
    with engine.connect() as conn:
        finished = conn.execute(
            text("SELECT extract(epoch FROM finished_at) FROM jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()
    assert api.get(f"/jobs/{job_id}").json()["status"] == "succeeded"
    first_200 = next(at for at, status in answered if status == 200)
    assert first_200 >= float(finished), "a write was accepted before the erasure ended"
    assert sum(status == 409 for _, status in answered) >= 1

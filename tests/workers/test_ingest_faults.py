"""Faults on real processes: lost messages, a killed worker, a restarted Redis, a poison item.

Each test runs a private deployment (its own Redis database or server, worker,
beat and index folder) so that killing or flushing things touches nothing else.
"""

from __future__ import annotations

import signal
import time

import httpx
import redis
from sqlalchemy import text

from pipeline.embedded import EmbeddedRedis
from pipeline.messages import Footprint, Task
from tests.conftest import BOOTSTRAP_KEY, System
from tests.workers.test_ingest_flow import events, wait_job

FAST_SWEEP = {
    "PERSONA_INGEST_SWEEP_INTERVAL_S": "1",
    "PERSONA_INGEST_REPUBLISH_AFTER_S": "2",
    "PERSONA_INGEST_STUCK_AFTER_S": "6",
}


def client(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)


def texts(n: int, prefix: str) -> list[str]:
    return [
        f"{prefix} note {i}: the review of budget line {i} is due on day {i % 28}."
        for i in range(n)
    ]


def footprint(system: System, engine, user_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        org = conn.execute(text("SELECT id FROM organizations WHERE name = 'default'")).scalar_one()
    return system.call(Task.FOOTPRINT, Footprint(org_id=org, user_id=user_id))


def test_messages_lost_before_any_worker_runs_are_swept_back(make_system, engine) -> None:
    system = make_system(**FAST_SWEEP)
    system.start_gateway()
    api = client(system)
    jobs = [
        api.post(
            "/ingest", json={"user_id": "outbox", "events": events(texts(20, f"b{b}"), f"b{b}")}
        ).json()["job_id"]
        for b in range(3)
    ]
    redis.Redis.from_url(system.redis_url).flushdb()  # every message is gone
    system.start_worker()
    system.start_beat()
    for job_id in jobs:
        assert wait_job(api, job_id, timeout=90)["status"] == "succeeded"
    assert footprint(system, engine, "outbox") == {"items": 60, "chunks": 60, "points": 60}
    found = api.post(
        "/chunks", json={"user_id": "outbox", "query": "b2 note 7 budget line 7"}
    ).json()
    assert found["chunks"][0]["event_id"] == "b2_7"


def test_worker_killed_mid_job_completes_after_restart(make_system, engine) -> None:
    system = make_system(**FAST_SWEEP)
    system.start_gateway()
    api = client(system)
    worker = system.start_worker()
    system.start_beat()
    response = api.post(
        "/ingest", json={"user_id": "killed", "events": events(texts(600, "k"), "k")}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 60
    while api.get(f"/jobs/{job_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # in the middle of embedding
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait()
    system.start_worker()
    job = wait_job(api, job_id, timeout=180)
    assert job["status"] == "succeeded"
    assert job["attempts"] >= 2
    assert footprint(system, engine, "killed") == {"items": 600, "chunks": 600, "points": 600}


def test_redis_restart_during_ingestion_loses_nothing(make_system, engine, tmp_path) -> None:
    own = EmbeddedRedis(tmp_path / "redis").start()
    port = own.port
    try:
        system = make_system(redis_base=own.url.rsplit("/", 1)[0], **FAST_SWEEP)
        system.start_gateway()
        system.start_worker()
        system.start_beat()
        api = client(system)
        accepted = []
        for batch in range(6):
            if batch == 3:
                own.stop()
                own = EmbeddedRedis(tmp_path / "redis", port=port).start()
            body = {"user_id": "rr", "events": events(texts(50, f"r{batch}"), f"r{batch}")}
            for _ in range(50):  # the gateway may need a moment to reconnect
                response = api.post("/ingest", json=body)
                if response.status_code == 202:
                    break
                time.sleep(0.2)
            assert response.status_code == 202, response.text
            accepted.append(response.json()["job_id"])
        for job_id in accepted:
            assert wait_job(api, job_id, timeout=180)["status"] == "succeeded"
        assert footprint(system, engine, "rr") == {"items": 300, "chunks": 300, "points": 300}
    finally:
        own.stop()


def test_a_poison_item_fails_its_job_clearly_and_blocks_nothing(make_system, engine) -> None:
    system = make_system()
    system.start_gateway()
    api = client(system)
    poisoned = api.post(
        "/ingest", json={"user_id": "p", "events": events(texts(3, "p"), "p")}
    ).json()
    with engine.begin() as conn:  # a value PostgreSQL holds but Python cannot read back
        conn.execute(
            text("UPDATE items SET ts = '12000-01-01' WHERE job_id = :j AND external_id = 'p_1'"),
            {"j": poisoned["job_id"]},
        )
    healthy = api.post(
        "/ingest", json={"user_id": "h", "events": events(texts(3, "h"), "h")}
    ).json()
    system.start_worker()
    failed = wait_job(api, poisoned["job_id"])
    assert failed["status"] == "failed"
    assert "year" in failed["error"].lower()
    assert wait_job(api, healthy["job_id"])["status"] == "succeeded"

"""Faults on real processes: lost messages, a killed worker, a restarted Redis, a poison item.

Each test runs a private deployment (its own Redis database or server, worker,
beat and index folder) so that killing or flushing things touches nothing else.
"""

from __future__ import annotations

import signal
import time
from functools import partial

import httpx
import redis
from sqlalchemy import text

from pipeline.local.embedded import EmbeddedRedis
from tests.conftest import BOOTSTRAP_KEY, System
from tests.helpers import FAST_SWEEP, events, footprint, wait_for, wait_job


def client(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)


def texts(n: int, prefix: str) -> list[str]:
    return [
        f"{prefix} note {i}: the review of budget line {i} is due on day {i % 28}."
        for i in range(n)
    ]


def accepted_or_none(api: httpx.Client, body: dict) -> httpx.Response | None:
    response = api.post("/ingest", json=body)
    return response if response.status_code == 202 else None


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
    assert footprint(api, "outbox") == {"items": 60, "chunks": 60, "points": 60}
    found = api.post(
        "/chunks", json={"user_id": "outbox", "query": "b2 note 7 budget line 7"}
    ).json()
    assert found["chunks"][0]["event_id"] == "b2_7"


def test_worker_killed_mid_job_completes_after_restart(make_system, engine) -> None:
    """The job's worker stops beating: the sweeper sends the job again within seconds,
    though the stuck-job bound (10 minutes here) and Redis's redelivery are far off."""
    system = make_system(
        **{
            **FAST_SWEEP,
            "PERSONA_INGEST_STUCK_AFTER_S": "600",
            "PERSONA_INGEST_JOB_TIME_LIMIT_S": "60",
        }
    )
    system.start_gateway()
    api = client(system)
    worker = system.start_worker()
    system.start_beat()
    response = api.post(
        "/ingest", json={"user_id": "killed", "events": events(texts(600, "k"), "k")}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    wait_for(lambda: api.get(f"/jobs/{job_id}").json()["status"] == "running", what="a claim")
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait()
    with engine.connect() as conn:  # killed mid-job: claimed, nothing written yet
        pending = conn.execute(
            text("SELECT count(*) FROM items WHERE job_id = :j AND state = 'pending'"),
            {"j": job_id},
        ).scalar_one()
    assert pending == 600
    assert api.get(f"/jobs/{job_id}").json()["status"] == "running"
    killed_at = time.monotonic()
    system.start_worker()
    job = wait_job(api, job_id, timeout=180)
    assert job["status"] == "succeeded"
    assert job["attempts"] >= 2
    recovered_s = time.monotonic() - killed_at
    print(f"\njob of a killed worker done {recovered_s:.1f} s after the kill")
    assert recovered_s < 60, "recovered from the heartbeat, not the timeout"
    assert footprint(api, "killed") == {"items": 600, "chunks": 600, "points": 600}


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
            response = wait_for(  # the gateway may need a moment to reconnect
                partial(accepted_or_none, api, body), timeout=30, what="the gateway to accept"
            )
            accepted.append(response.json()["job_id"])
        for job_id in accepted:
            job = wait_for(partial(ended, api, job_id, system), 180, f"job {job_id} to end")
            assert job["status"] == "succeeded"
        assert footprint(api, "rr") == {"items": 300, "chunks": 300, "points": 300}
    finally:
        own.stop()


def ended(api: httpx.Client, job_id: str, system: System) -> dict | None:
    """The job once it ended; meanwhile a worker that exited is started again, as `persona
    run`'s supervisor (or Kubernetes) does: kombu can take a Celery worker down while it
    reconnects to a restarted broker (an AttributeError in the Redis transport's restore
    of unacknowledged messages, seen here when an ack raced the restart). What a restart
    of Redis must not do is lose a job, and a worker restarted finds every one."""
    assert system.worker is not None
    if system.worker.proc.poll() is not None:
        system.start_worker()
    job = api.get(f"/jobs/{job_id}").json()
    return job if job["status"] in {"succeeded", "failed"} else None


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
    assert failed["error"].startswith("internal error ("), failed["error"]
    assert "12000" not in failed["error"], "the driver's own words stay in the log"
    assert wait_job(api, healthy["job_id"])["status"] == "succeeded"

"""Reads straight to the worker that holds the index (`workers.reads`): no queue, no result
backend; the queue again whenever nothing answers there; the socket its owner's alone,
and a TCP port only with the token."""

from __future__ import annotations

import stat
import uuid

import httpx
import redis

from pipeline.local.embedded.process import free_port
from pipeline.messages import Queue, Task
from tests.conftest import BOOTSTRAP_KEY, System
from tests.helpers import events, wait_job

ALL_BUT_RETRIEVAL = [q.value for q in Queue if q != Queue.RETRIEVAL]
FACTS = ["The storage unit code is ZX-4471.", "Lunch with Priya on Friday at noon."]


def client(system: System) -> httpx.Client:
    return httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)


def remember(api: httpx.Client, user: str) -> None:
    response = api.post("/ingest", json={"user_id": user, "events": events(FACTS, "f")})
    assert response.status_code == 202, response.text
    assert wait_job(api, response.json()["job_id"])["status"] == "succeeded"


def top(api: httpx.Client, user: str, query: str) -> httpx.Response:
    return api.post("/chunks", json={"user_id": user, "query": query, "top_k": 1})


def remembered_and_found(api: httpx.Client) -> str:
    """A new user's facts ingested, and the one with the code found by it: the user."""
    user = f"ash-{uuid.uuid4().hex[:8]}"  # the database is shared; the index is not
    remember(api, user)
    found = top(api, user, "ZX-4471")
    assert found.status_code == 200, found.text
    assert found.json()["chunks"][0]["event_id"] == "f_0"
    return user


def test_reads_reach_the_worker_without_the_queue(make_system) -> None:
    system: System = make_system()
    system.start_gateway()
    system.start_worker(queues=ALL_BUT_RETRIEVAL)  # nothing consumes the retrieval queue
    with client(system) as api:
        user = remembered_and_found(api)
        answer = api.post("/query", json={"user_id": user, "question": "When is lunch?"})
        assert answer.status_code == 200, answer.text
        # A worker restarted: the gateway's kept connection to the old one is gone, and the
        # next read reaches the new one directly (nothing would answer on the queue).
        assert system.worker is not None
        system.worker.stop()
        system.start_worker(queues=ALL_BUT_RETRIEVAL)
        found = top(api, user, "ZX-4471")
        assert found.status_code == 200, found.text
        assert found.json()["chunks"][0]["event_id"] == "f_0"
    assert redis.Redis.from_url(system.redis_url).llen(Queue.RETRIEVAL.value) == 0


def test_reads_take_the_queue_while_no_worker_serves_them(make_system) -> None:
    system: System = make_system(PERSONA_READS_LISTEN="")  # the worker serves no reads
    system.start_gateway()
    system.start_worker()
    with client(system) as api:
        remembered_and_found(api)


def test_the_socket_is_its_owners_alone(make_system) -> None:
    system: System = make_system()
    system.start_worker()
    socket = system.data_dir / "run" / "reads.sock"
    assert stat.S_ISSOCK(socket.stat().st_mode)
    assert stat.S_IMODE(socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700


def test_a_port_answers_only_with_the_token(make_system) -> None:
    port = free_port()
    token = "reads-token-of-this-test-" + "x" * 16
    system: System = make_system(
        PERSONA_READS_LISTEN=f"127.0.0.1:{port}",
        PERSONA_READS_URL=f"http://127.0.0.1:{port}",
        PERSONA_READS_TOKEN=token,
    )
    system.start_gateway()
    system.start_worker(queues=ALL_BUT_RETRIEVAL)
    with client(system) as api:
        user = remembered_and_found(api)  # through the port, with the token
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as probe:
        body = {"org_id": 1, "request": {"user_id": user, "query": "ZX-4471"}}
        assert probe.post(f"/reads/{Task.SEARCH}", json=body).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert probe.post(f"/reads/{Task.SEARCH}", json=body, headers=wrong).status_code == 401

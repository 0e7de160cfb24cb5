"""Exactly once under batching, on real processes: gateway, Redis, worker, PostgreSQL, index.

A worker sent one ingest job runs it with other queued jobs as one batch
(`pipeline.ingest.index`). Batching must not change what a user sees: every job
ends once, with its own counts; each user holds exactly the items, chunk rows and
points sent, however the jobs were grouped, delivered twice, interrupted by a
killed worker, or shared a batch with a user being deleted.

Each test runs a private deployment (its own Redis database, worker and index
folder), and waits on facts: job statuses, the queue, the stores.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterable

import httpx
import redis
from sqlalchemy import Engine, text

from api_gateway.dispatch import create_producer
from pipeline.config import RedisSettings, Settings
from pipeline.ingest.index import GONE
from pipeline.messages import IngestJob, Queue, Task
from tests.conftest import System
from tests.helpers import (
    FAST_SWEEP,
    ZERO,
    footprint,
    org_client,
    org_id,
    residue,
    rows_of,
    user_pk,
    wait_for,
    wait_job,
)

ADMIN = ("read_write", "admin")


def notes(user_id: str, first: int, n: int) -> list[dict]:
    """Events `{user_id}_{i}` for i in first..first+n, each a note that names its user."""
    return [
        {
            "event_id": f"{user_id}_{i}",
            "type": "note",
            "timestamp": "2025-10-01T09:00:00Z",
            "content": f"{user_id} note {i}: the review of budget line {i} is due on day {i % 28}.",
        }
        for i in range(first, first + n)
    ]


def accept(api: httpx.Client, user_id: str, events: list[dict]) -> str:
    """An `/ingest` of `events` for `user_id`; its job id."""
    response = api.post("/ingest", json={"user_id": user_id, "events": events})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def job(api: httpx.Client, job_id: str) -> dict:
    return api.get(f"/jobs/{job_id}").json()


def statuses(api: httpx.Client, job_ids: Iterable[str]) -> set[str]:
    return {job(api, job_id)["status"] for job_id in job_ids}


def send(system: System, *messages: list[str]) -> None:
    """Ingest messages naming `messages`' jobs, as a batch that put them back sends them."""
    producer = create_producer(Settings(redis=RedisSettings(url=system.redis_url)))
    try:
        for job_ids in messages:
            producer.send_task(Task.INGEST, kwargs=IngestJob.of(job_ids).model_dump())
    finally:
        producer.close()


def ingest_messages(system: System) -> int:
    """Ingest messages in Redis: queued, or delivered and not yet acknowledged."""
    broker = redis.Redis.from_url(system.redis_url)
    unacked = [json.loads(raw) for raw in broker.hvals("unacked")]
    return int(broker.llen(Queue.INGEST)) + sum(rk == Queue.INGEST for _, _, rk in unacked)


def exactly(n: int) -> dict[str, int]:
    return {"items": n, "chunks": n, "points": n}


def running_by(engine: Engine, job_ids: list[str]) -> tuple[int, int]:
    """The workers the jobs are running on, and their items still pending."""
    with engine.connect() as conn:
        workers = conn.execute(
            text("SELECT count(DISTINCT worker) FROM jobs WHERE id = ANY(:ids)"), {"ids": job_ids}
        ).scalar_one()
        pending = conn.execute(
            text("SELECT count(*) FROM items WHERE job_id = ANY(:ids) AND state = 'pending'"),
            {"ids": job_ids},
        ).scalar_one()
    return workers, pending


def finds_own(api: httpx.Client, user_id: str, i: int, sent: range) -> None:
    """A search for the user's note `i` finds it first, and only notes the user sent (of
    `sent`), nothing of another user or organization."""
    query = f"{user_id} note {i}: the review of budget line {i}"
    found = api.post("/chunks", json={"user_id": user_id, "query": query, "top_k": 5}).json()
    ids = [c["event_id"] for c in found["chunks"]]
    assert ids[0] == f"{user_id}_{i}", ids
    assert set(ids) <= {f"{user_id}_{k}" for k in sent}, ids


def test_queued_one_event_requests_are_indexed_in_batches_each_once(make_system, engine) -> None:
    """One-event requests of several users in two organizations (the same user ids in
    both), queued before any worker runs, end in a few batches, each job once."""
    system = make_system()
    system.start_gateway()
    apis = {0: org_client(system.url, engine, ADMIN), 100: org_client(system.url, engine, ADMIN)}
    users = ["ann", "bob", "cyd"]
    sent = [
        (api, accept(api, user, notes(user, first + i, 1)))
        for i in range(10)
        for first, api in apis.items()
        for user in users
    ]
    system.start_worker()
    ended = [wait_job(api, job_id, timeout=60) for api, job_id in sent]
    assert {j["status"] for j in ended} == {"succeeded"}
    assert {j["attempts"] for j in ended} == {1}
    assert {(j["counts"]["items"], j["counts"]["chunks"]) for j in ended} == {(1, 1)}
    # each job carries its batch's size: the batches are the sum of 1/size over the jobs
    sizes = [j["timings"]["batch_jobs"] for j in ended]
    batches = round(sum(1 / size for size in sizes))
    print(f"\n{len(sent)} one-event jobs ran in {batches} batch(es) of sizes {sorted(set(sizes))}")
    assert max(sizes) > 1
    assert batches <= len(sent) // 4, "most jobs shared a batch"
    for first, api in apis.items():
        for user in users:
            assert footprint(api, user) == exactly(10)
            finds_own(api, user, first + 7, range(first, first + 10))


def test_jobs_delivered_again_while_batched_run_once(make_system, engine) -> None:
    """Messages naming jobs another batch holds, or that ended, are no-ops: sent before the
    batch took them, while it runs, and after it ended."""
    system = make_system(PERSONA_INGEST_BATCH_ITEMS="1000")
    system.start_gateway()
    api = org_client(system.url, engine, ADMIN)
    users = ["eve", "fay", "gus"]
    sent = [accept(api, user, notes(user, k * 40, 40)) for k in range(3) for user in users]
    again = [[job_id] for job_id in sent] + [sent[::-1]]
    send(system, *again)  # queued behind the gateway's own messages
    system.start_worker()
    wait_for(lambda: "running" in statuses(api, sent), what="a batch to take the jobs")
    send(system, *again)
    assert "running" in statuses(api, sent), "sent while the batch still ran"
    for job_id in sent:
        assert wait_job(api, job_id, timeout=60)["status"] == "succeeded"
    send(system, *again)  # after every job ended
    wait_for(lambda: ingest_messages(system) == 0, what="every ingest message to be run")
    ended = [job(api, job_id) for job_id in sent]
    assert {j["status"] for j in ended} == {"succeeded"}
    assert {j["attempts"] for j in ended} == {1}, "each job claimed once"
    assert {(j["counts"]["items"], j["counts"]["chunks"]) for j in ended} == {(40, 40)}
    assert max(j["timings"]["batch_jobs"] for j in ended) > 1
    for user in users:
        assert footprint(api, user) == exactly(120)
        finds_own(api, user, 101, range(120))


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(make_system, engine) -> None:
    """The killed worker's batch holds several jobs, claimed, nothing written; the sweeper
    sends them again once its heartbeat stops, and a new worker runs each to its end."""
    system = make_system(
        **{
            **FAST_SWEEP,
            "PERSONA_INGEST_STUCK_AFTER_S": "600",
            "PERSONA_INGEST_JOB_TIME_LIMIT_S": "60",
            "PERSONA_INGEST_BATCH_ITEMS": "1000",
        }
    )
    system.start_gateway()
    api = org_client(system.url, engine, ADMIN)
    users = ["hal", "ida", "jon"]
    sent = [accept(api, user, notes(user, k * 50, 50)) for k in range(2) for user in users]
    worker = system.start_worker()
    system.start_beat()
    wait_for(lambda: statuses(api, sent) == {"running"}, what="batches to take every job")
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait()
    worker.stop()
    assert statuses(api, sent) == {"running"}
    assert running_by(engine, sent) == (1, 300), "one worker held them all, nothing written"
    system.start_worker()
    ended = [wait_job(api, job_id, timeout=90) for job_id in sent]
    assert {j["status"] for j in ended} == {"succeeded"}
    assert {j["attempts"] for j in ended} == {2}, "claimed by the killed batch, then once more"
    for user in users:
        assert footprint(api, user) == exactly(100)
        finds_own(api, user, 75, range(100))


def test_a_user_deleted_while_their_job_shares_a_batch(make_system, engine) -> None:
    """One batch holds jobs of `kim` and `leo`; `leo` is erased while it embeds. The
    erasure ends first (the batch's write waits on nothing of it), so the batch finds
    `leo` gone when it writes: `kim` is indexed, `leo`'s job fails, nothing of `leo` is
    left anywhere."""
    system = make_system(
        PERSONA_INGEST_BATCH_ITEMS="1000",
        PERSONA_EMBEDDING_PARALLEL="1",  # one claim at a time: the first takes every job
    )
    system.start_gateway()
    api = org_client(system.url, engine, ADMIN)
    kim = [accept(api, "kim", notes("kim", 0, 150))]
    leo = accept(api, "leo", notes("leo", 0, 150))
    kim.append(accept(api, "kim", notes("kim", 150, 150)))
    org = api.org  # type: ignore[attr-defined]
    leo_pk = user_pk(engine, org, "leo")
    system.start_worker()
    wait_for(lambda: statuses(api, [*kim, leo]) == {"running"}, what="one batch to take all")
    deleted = api.post("/delete", json={"user_id": "leo"})
    assert deleted.status_code == 202, deleted.text
    erasure = wait_job(api, deleted.json()["job_id"], timeout=60)
    assert erasure["status"] == "succeeded", erasure
    assert erasure["result"]["recheck"] == ZERO
    assert statuses(api, kim) == {"running"}, "erased while the batch still embedded"
    done = [wait_job(api, job_id, timeout=60) for job_id in kim]
    gone = wait_job(api, leo, timeout=60)
    assert [j["status"] for j in done] == ["succeeded", "succeeded"]
    assert [j["attempts"] for j in done] == [1, 1]
    assert (gone["status"], gone["error"], gone["counts"]["chunks"]) == ("failed", GONE, 0)
    assert gone["timings"] == done[0]["timings"] == done[1]["timings"], "one batch"
    assert gone["timings"]["batch_jobs"] == 3
    assert footprint(api, "kim") == exactly(300)
    finds_own(api, "kim", 222, range(300))
    assert residue(system.call, org_id(engine, org), leo_pk) == ZERO
    assert set(rows_of(engine, leo_pk).values()) == {0}
    assert api.post("/chunks", json={"user_id": "leo", "query": "leo note 7"}).status_code == 404

"""Deletion wins every race, on real processes.

Each trial streams ingest batches for a fresh user from a producer thread and
deletes the user at a random moment: before its jobs are taken, while one is
embedding or writing, or after they are done. When every job has ended, nothing
of the user may remain: no row in any table with a `user_pk`, no point in the
index, no key under its Redis prefix. A batch sent after the delete landed is
refused (409) or, once the erasure is over, starts a new user with a new id.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import redis

from pipeline import keys
from pipeline.db.engine import session_scope
from tests.conftest import System
from tests.helpers import ZERO, org_id, residue, rows_of, user_pk, wait_job

TRIALS = 20
BATCH = 15


def batch(trial: int, number: int) -> list[dict]:
    return [
        {
            "event_id": f"t{trial}-b{number}-{i}",
            "type": "note",
            "timestamp": "2025-10-01T09:00:00Z",
            "content": f"Trial {trial} batch {number} note {i}: call the supplier about "
            f"order {i * 7 + number} before the review on day {i % 28}.",
        }
        for i in range(BATCH)
    ]


@dataclass
class Producer:
    """Sends `batches` ingest requests for one user with small random gaps."""

    client: httpx.Client
    user_id: str
    trial: int
    gaps: list[float]
    accepted: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def run(self) -> None:
        for number, gap in enumerate(self.gaps):
            response = self.client.post(
                "/ingest", json={"user_id": self.user_id, "events": batch(self.trial, number)}
            )
            self.statuses.append(response.status_code)
            if response.status_code == 202:
                self.accepted.append(response.json()["job_id"])
            else:
                assert response.status_code == 409, response.text
                assert response.json()["error"]["code"] == "USER_DELETING"
            time.sleep(gap)  # a random pause, so the delete lands anywhere in the stream


def test_deletion_wins_every_race(make_system, engine) -> None:
    system: System = make_system()
    system.start_gateway()
    system.start_worker()  # threads pool, concurrency 2: an ingest and the erasure at once
    org = f"race-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        key = keys.create_key(session, org, ["read_write"], "race")
    client = httpx.Client(base_url=system.url, headers={"X-API-Key": key}, timeout=30)
    cache = redis.Redis.from_url(system.redis_url)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    in_flight = residue_found = 0
    started = time.monotonic()
    for trial in range(TRIALS):
        user = f"racer-{trial}"
        first = client.post("/ingest", json={"user_id": user, "events": batch(trial, 99)})
        assert first.status_code == 202
        pk = user_pk(engine, org, user)
        cache.set(f"persona:user:{pk}:summary:general", "a cached summary")
        producer = Producer(client, user, trial, [rng.uniform(0, 0.15) for _ in range(2)])
        producer.accepted.append(first.json()["job_id"])
        thread = threading.Thread(target=producer.run)
        thread.start()
        time.sleep(rng.uniform(0, 0.4))  # a random moment for the delete: the race itself
        deleted = client.post("/delete", json={"user_id": user})
        assert deleted.status_code == 202, f"seed {seed} trial {trial}: {deleted.text}"
        statuses = [client.get(f"/jobs/{j}").json()["status"] for j in list(producer.accepted)]
        in_flight += any(s in {"queued", "running"} for s in statuses)
        thread.join()

        erasure = wait_job(client, deleted.json()["job_id"], timeout=60)
        assert erasure["status"] == "succeeded", f"seed {seed} trial {trial}: {erasure}"
        assert erasure["result"]["recheck"] == ZERO
        for job_id in producer.accepted:
            assert wait_job(client, job_id, timeout=60)["status"] in {"succeeded", "failed"}
        left = residue(system.call, org_id(engine, org), pk)
        rows = rows_of(engine, pk)
        residue_found += left != ZERO or any(rows.values())
        assert left == ZERO, f"seed {seed} trial {trial}: residue {left}"
        assert set(rows.values()) == {0}, f"seed {seed} trial {trial}: rows {rows}"
        # A batch accepted after the erasure belongs to a new user, never to the old id.
        now = client.get(f"/v1/end-users/{user}")
        assert now.status_code == 404 or user_pk(engine, org, user) != pk
    print(
        f"\nrace: {TRIALS} trials (seed {seed}), {in_flight} with an ingest job queued or "
        f"running when the delete landed, residue in {residue_found}, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert in_flight > 0, "no trial raced an unfinished ingest job: the test proves nothing"

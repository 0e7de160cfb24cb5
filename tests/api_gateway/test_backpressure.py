"""Backpressure on `/ingest`, on real processes: with no worker the backlog grows past its
bound and producers get 429 with Retry-After; a worker drains it and ingest is accepted
again. The depth is read from Redis at most once per check interval, not per request."""

from __future__ import annotations

import time
import uuid

import httpx
import redis

from tests.conftest import BOOTSTRAP_KEY
from tests.helpers import events, wait_for, wait_job

BOUND = 3
CHECK_S = 0.5


def llen_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_llen", {}).get("calls", 0))


def test_ingest_backlog_above_its_bound_answers_429_until_drained(make_system) -> None:
    system = make_system(
        PERSONA_INGEST_MAX_BACKLOG=str(BOUND),
        PERSONA_INGEST_BACKLOG_CHECK_S=str(CHECK_S),
        PERSONA_INGEST_BACKLOG_RETRY_AFTER_S="2",
    )
    system.start_gateway()
    api = httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)
    user = f"backlog-{uuid.uuid4().hex[:8]}"

    def send(n: int) -> httpx.Response:
        return api.post("/ingest", json={"user_id": user, "events": events([f"note {n}"], f"b{n}")})

    accepted = [send(n) for n in range(BOUND + 1)]  # no worker: every job waits
    assert [r.status_code for r in accepted] == [202] * (BOUND + 1)

    def refused_or_none(n: int = 100) -> httpx.Response | None:
        """The next answer, once a reading of the queue sees it over the bound (a gateway
        reads it once per CHECK_S); a request accepted before that is one more job."""
        response = send(n)
        if response.status_code == 202:
            accepted.append(response)
            return None
        return response

    refused = wait_for(refused_or_none, timeout=CHECK_S + 5, what="the backlog to be seen")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert "backlog" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"] == "2"
    assert "X-RateLimit-Remaining" in refused.headers
    assert api.get(f"/v1/end-users/{user}").status_code == 200
    job_ids = [r.json()["job_id"] for r in accepted]

    # Producers hammering the gateway cost one queue reading per interval, not one each.
    client = redis.Redis.from_url(system.redis_url)
    before, started = llen_calls(client), time.monotonic()
    statuses = {send(200 + n).status_code for n in range(20)}
    elapsed = time.monotonic() - started
    assert statuses == {429}
    assert llen_calls(client) - before <= elapsed / CHECK_S + 1

    system.start_worker()
    for job_id in job_ids:
        assert wait_job(api, job_id, timeout=60)["status"] == "succeeded"

    def accepted_again() -> httpx.Response | None:
        response = send(300)
        return response if response.status_code == 202 else None

    response = wait_for(accepted_again, timeout=10, what="ingest accepted again")
    assert wait_job(api, response.json()["job_id"], timeout=60)["status"] == "succeeded"

"""Precomputed summaries on private deployments: refreshed once when ingestion settles,
served without a worker, and the same bytes after a worker restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import text

from pipeline.summaries import debounce
from tests.conftest import RedisDatabases, System
from tests.helpers import org_client, user_pk, wait_for, wait_job
from tests.summaries import ash
from tests.summaries.ash import ingest, setup_ash, summary

QUIET_S = 1.5


@pytest.fixture(scope="module")
def deployment(services, redis_dbs: RedisDatabases, tmp_path_factory) -> Iterator[System]:
    """One private deployment for this module (a short quiet period, a short RPC wait):
    its worker is stopped and restarted, which the shared deployment must never see."""
    db = redis_dbs.take()
    system = System(
        services,
        db,
        tmp_path_factory.mktemp("summaries"),
        {"PERSONA_SUMMARIES_QUIET_S": str(QUIET_S), "PERSONA_GATEWAY_RPC_TIMEOUT_S": "2"},
    )
    system.start_gateway()
    system.start_worker()
    yield system
    system.stop()
    redis_dbs.give_back(db)


USER_ROWS = (
    "FROM summaries s JOIN users u ON u.id = s.user_pk JOIN organizations o ON o.id = u.org_id "
    "WHERE o.name = :org AND u.user_id = :user"
)


def stored(engine, org: str, user_id: str) -> dict[str, dict]:
    """The user's summary rows by purpose and length."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.purpose, s.max_chars, s.refreshes, s.summary, s.generated_at " + USER_ROWS
            ),
            {"org": org, "user": user_id},
        ).mappings()
        return {f"{r['purpose']}/{r['max_chars']}": dict(r) for r in rows}


def no_refresh_pending(system: System, engine, org: str, user_id: str) -> bool:
    """No settle check can refresh the user any more: its debounce marks are gone (a check
    finding none does nothing)."""
    pk = user_pk(engine, org, user_id)
    cache = redis.Redis.from_url(system.redis_url)
    return not cache.exists(debounce.due_key(pk), debounce.pending_key(pk))


def refreshes(engine, org: str, user_id: str) -> dict[str, int]:
    return {key: row["refreshes"] for key, row in stored(engine, org, user_id).items()}


def test_ingestion_that_settles_refreshes_once_per_burst(deployment: System, engine) -> None:
    http = org_client(deployment.url, engine)
    general = "general/1000"

    def counts() -> dict[str, int]:
        return refreshes(engine, http.org, "kai")  # type: ignore[attr-defined]

    # First data: one refresh, after the quiet period, writes `general` before anyone asks.
    setup_ash(http, "kai")
    wait_for(lambda: counts().get(general) == 1, what="the first refresh")
    served = summary(http, "kai").json()
    row = stored(engine, http.org, "kai")[general]  # type: ignore[attr-defined]
    assert served["summary"] == row["summary"]
    assert served["generated_at"] == row["generated_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    work = summary(http, "kai", purpose="work-style").json()  # asked once: refreshed from now on

    # No new data: nothing is refreshed, the same bytes are served.
    assert no_refresh_pending(deployment, engine, http.org, "kai")  # type: ignore[attr-defined]
    assert counts() == {general: 1, "work-style/1000": 0}
    assert summary(http, "kai").json() == served

    # New data: served at once (the version moved), then refreshed once when quiet.
    ingest(
        http,
        "kai",
        ash.events(["I moved to Denver and now work from the Fastino office there."], "n"),
    )
    fresh = summary(http, "kai").json()
    assert "Denver" in fresh["summary"]
    assert "Denver" not in served["summary"]
    assert fresh["generated_at"] >= served["generated_at"]  # to the second
    wait_for(lambda: counts() == {general: 2, "work-style/1000": 1}, what="the second refresh")
    assert summary(http, "kai").json() == fresh, "a refresh to the same text keeps its date"
    assert summary(http, "kai", purpose="work-style").json()["summary"] == work["summary"]

    # A burst of small jobs: one more refresh, not one per job.
    jobs = []
    for i in range(40):
        body = {
            "user_id": "kai",
            "events": ash.events([f"Burst note number {i} about the roadmap."], f"b{i}"),
        }
        jobs.append(http.post("/ingest", json=body).json()["job_id"])
    assert all(wait_job(http, job_id)["status"] == "succeeded" for job_id in jobs)
    wait_for(lambda: counts() == {general: 3, "work-style/1000": 2}, what="the burst's refresh")
    assert no_refresh_pending(deployment, engine, http.org, "kai")  # type: ignore[attr-defined]
    http.close()


def test_fresh_summaries_need_no_worker_and_survive_a_worker_restart(
    deployment: System, engine
) -> None:
    system = deployment
    http = org_client(system.url, engine)
    setup_ash(http, "lee")
    asks = [
        {"purpose": "general"},
        {"purpose": "schedule-context", "max_chars": 300},
        {"purpose": "communication-style", "max_chars": 5000},
        {"purpose": "what they eat"},
    ]
    before = [summary(http, "lee", **ask) for ask in asks]

    system.worker.stop()  # from here on, only what is stored can answer
    for ask, answer in zip(asks, before, strict=True):
        assert summary(http, "lee", **ask).content == answer.content
    hot = redis.Redis.from_url(system.redis_url)
    with engine.connect() as conn:
        pk = conn.execute(
            text(
                "SELECT u.id FROM users u JOIN organizations o ON o.id = u.org_id "
                "WHERE o.name = :org AND u.user_id = 'lee'"
            ),
            {"org": http.org},  # type: ignore[attr-defined]
        ).scalar_one()
    copies = hot.keys(f"persona:user:{pk}:summary:*")
    assert len(copies) == len(asks), "a hot copy of each, under the user's prefix"
    hot.delete(*copies)
    for ask, answer in zip(asks, before, strict=True):  # from Postgres, no worker either
        assert summary(http, "lee", **ask).content == answer.content
    cold = http.get("/summary", params={"user_id": "lee", "purpose": "persona"})
    assert cold.status_code == 503, "not stored and no worker: the cold path needs one"
    assert cold.json()["error"]["code"] == "UNAVAILABLE"

    # A new worker process, another concurrency, nothing stored: the same text again.
    system.start_worker(concurrency=4)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM summaries s USING users u, organizations o WHERE u.id = s.user_pk "
                "AND o.id = u.org_id AND o.name = :org AND u.user_id = 'lee'"
            ),
            {"org": http.org},  # type: ignore[attr-defined]
        )
    hot.delete(*(hot.keys(f"persona:user:{pk}:summary:*") or ["none"]))
    for ask, answer in zip(asks, before, strict=True):
        again = summary(http, "lee", **ask).json()
        assert again["summary"] == answer.json()["summary"], ask
    http.close()

"""Background reprocessing on real processes: a reindex while ingest and reads run, a worker
killed mid-reindex, a model switch to another dimension, a repair after a lost shard, a
deletion mid-reindex, a user re-embedded in place, and summaries rebuilt.

Each test has a database of its own (`own_database`): the active index generation is
what every deployment on a database shares, and these tests switch it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from pipeline import keys, models
from pipeline.db.engine import get_engine, session_scope
from pipeline.local.model_build import build_model
from tests.conftest import BOOTSTRAP_KEY, Services, System
from tests.helpers import (
    PERSONA,
    ZERO,
    events,
    footprint,
    org_id,
    residue,
    user_pk,
    wait_for,
    wait_job,
)

ORG = "default"  # the bootstrap key's organization

QUICK = {
    "PERSONA_INGEST_SWEEP_INTERVAL_S": "1",
    "PERSONA_REINDEX_PAGE_ITEMS": "8",
    "PERSONA_REINDEX_STEP_S": "2",
}


def engine_of(services: Services) -> Engine:
    return get_engine(services.database_url, pool_size=1)


def notes(n: int, prefix: str) -> list[str]:
    return [f"{prefix} note {i}: the {prefix} review of budget line {i} is due." for i in range(n)]


def start(system: System, beat: bool = True) -> httpx.Client:
    system.start_gateway()
    system.start_worker()
    if beat:
        system.start_beat()
    return httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)


def ingest(api: httpx.Client, user: str, texts: list[str], prefix: str) -> str:
    response = api.post("/ingest", json={"user_id": user, "events": events(texts, prefix)})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def ingested(api: httpx.Client, user: str, texts: list[str], prefix: str) -> None:
    assert wait_job(api, ingest(api, user, texts, prefix))["status"] == "succeeded"


def generations(api: httpx.Client) -> dict[str, dict]:
    """The generations by state (the last of each)."""
    response = api.get("/v1/generations")
    assert response.status_code == 200, response.text
    return {g["state"]: g for g in response.json()["generations"]}


def reindex(api: httpx.Client, **body: str) -> dict:
    response = api.post("/v1/reindex", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def top_event(api: httpx.Client, user: str, query: str) -> str | None:
    response = api.post("/chunks", json={"user_id": user, "query": query, "top_k": 1})
    assert response.status_code == 200, response.text
    found = response.json()["chunks"]
    return found[0]["event_id"] if found else None


def progress_reaches(api: httpx.Client, job_id: str, done: int) -> dict:
    def check() -> dict | None:
        job = api.get(f"/jobs/{job_id}").json()
        assert job["status"] != "failed", job
        p = job.get("progress")
        return p if p and p["done"] >= done and job["status"] == "running" else None

    return wait_for(check, timeout=120, what=f"job {job_id} past {done} items", poll=0.05)


class Traffic:
    """Live use during a reindex: a client streaming small ingest requests and one reading
    `/chunks` in a loop, each recording what a user would notice."""

    def __init__(self, api: httpx.Client, requests: int) -> None:
        self.api, self.requests = api, requests
        self.jobs: list[str] = []
        self.reads = 0
        self.failed_reads: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._stream, daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._threads[0].join(timeout=120)
        self._stop.set()
        self._threads[1].join(timeout=30)

    def _stream(self) -> None:
        for i in range(self.requests):
            texts = [f"stream {i} item {j}: packed the tent for trip T{i}x{j}." for j in range(4)]
            self.jobs.append(ingest(self.api, "streamer", texts, f"s{i}"))

    def _read(self) -> None:
        with httpx.Client(base_url=self.api.base_url, headers=self.api.headers) as reader:
            while not self._stop.is_set():
                response = reader.post(
                    "/chunks", json={"user_id": "reader", "query": "reader note 7 budget"}
                )
                self.reads += 1
                if response.status_code != 200 or not response.json()["chunks"]:
                    self.failed_reads.append(f"{response.status_code} {response.text[:200]}")


def test_reindex_while_ingest_and_reads_run(make_system, own_database: Services) -> None:
    system = make_system(
        on=own_database,
        PERSONA_REINDEX_KEEP_OLD_S="0",
        PERSONA_REINDEX_CATCH_UP_BELOW="4",
        **QUICK,
    )
    api = start(system)
    ingested(api, "reader", notes(150, "reader"), "r")
    ingested(api, "writer", notes(150, "writer"), "w")
    assert generations(api)["active"]["id"] == 1

    with Traffic(api, requests=40) as traffic:
        accepted = reindex(api)
        assert accepted["generation"] == 2
        seen = progress_reaches(api, accepted["job_id"], 1)
        assert seen["phase"] in {"build", "catch-up"}
        assert seen["total"] >= 300
        job = wait_job(api, accepted["job_id"], timeout=300)
    for job_id in traffic.jobs:
        assert wait_job(api, job_id)["status"] == "succeeded"

    assert job["status"] == "succeeded", job
    assert job["result"]["generation"] == 2
    assert job["result"]["replaced"] == 1
    assert traffic.reads > 10
    assert traffic.failed_reads == []
    assert generations(api)["active"]["id"] == 2
    wait_for(lambda: "dropped" in generations(api), what="the old generation dropped")
    assert footprint(api, "reader") == {"items": 150, "chunks": 150, "points": 150}
    assert footprint(api, "writer") == {"items": 150, "chunks": 150, "points": 150}
    assert footprint(api, "streamer") == {"items": 160, "chunks": 160, "points": 160}
    for i in (0, 17, 39):  # streamed during the reindex: searchable in the new generation
        assert top_event(api, "streamer", f"packed the tent for trip T{i}x2") == f"s{i}_2"


def test_worker_killed_mid_reindex_resumes_without_duplicates(
    make_system, own_database: Services
) -> None:
    system = make_system(
        on=own_database,
        PERSONA_REINDEX_KEEP_OLD_S="0",
        PERSONA_REINDEX_PAGE_ITEMS="4",
        PERSONA_INGEST_SWEEP_INTERVAL_S="1",
        PERSONA_INGEST_REPUBLISH_AFTER_S="2",
    )
    api = start(system)
    ingested(api, "kept", notes(240, "kept"), "k")
    accepted = reindex(api)
    progress_reaches(api, accepted["job_id"], 40)
    assert system.worker is not None
    system.worker.proc.send_signal(signal.SIGKILL)
    system.worker.proc.wait()
    at_kill = api.get(f"/jobs/{accepted['job_id']}").json()["progress"]["done"]
    assert 40 <= at_kill < 240

    system.start_worker()
    seen: list[int] = []

    def finished() -> dict | None:
        job = api.get(f"/jobs/{accepted['job_id']}").json()
        seen.append(job["progress"]["done"])
        return job if job["status"] in {"succeeded", "failed"} else None

    job = wait_for(finished, timeout=300, what="the reindex to resume and end", poll=0.2)
    assert job["status"] == "succeeded", job
    assert min(seen) >= at_kill, "resumed from its checkpoint, not from scratch"
    assert job["result"]["items"] == 240
    wait_for(lambda: "dropped" in generations(api), what="the old generation dropped")
    assert footprint(api, "kept") == {"items": 240, "chunks": 240, "points": 240}


@pytest.fixture(scope="session")
def mpnet(services: Services) -> None:
    """The second model built where the suite's workers look (once; seconds when current)."""
    build_model(models.folder(services.models_dir, models.MPNET), models.MPNET)


def test_a_model_switch_changes_the_dimension(
    make_system, own_database: Services, mpnet: None
) -> None:
    system = make_system(on=own_database, PERSONA_REINDEX_KEEP_OLD_S="3600", **QUICK)
    api = start(system)
    facts = [
        "Let's move stand-up to 2 PM starting next week.",
        "My sister Maya's birthday dinner is at Casa Lupita on Friday.",
        "The dentist appointment is moved to Tuesday morning at 8.",
        "I prefer window seats on long flights, never the aisle.",
    ]
    ingested(api, "ash", facts, "f")
    assert generations(api)["active"]["dim"] == 384

    job = wait_job(api, reindex(api, model="mpnet")["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    found = generations(api)
    assert (found["active"]["model"], found["active"]["dim"]) == ("mpnet", 768)
    assert (found["retired"]["model"], found["retired"]["dim"]) == ("minilm", 384)
    assert top_event(api, "ash", "Which seat do I like on a plane?") == "f_3"
    assert top_event(api, "ash", "When is the daily team meeting?") == "f_0"
    ingested(api, "ash", ["Book the vet for the cat on Monday."], "new")  # live, at 768
    assert top_event(api, "ash", "When does the cat see the vet?") == "new_0"


def test_a_reindex_moves_the_words_into_the_index(make_system, own_database: Services) -> None:
    system = make_system(on=own_database, PERSONA_EMBEDDING_LEXICAL="postgres", **QUICK)
    api = start(system, beat=False)
    facts = [
        "The spare key code for the storage unit is ZX-4471.",
        "Dinner with Dr. Okafor is moved to Thursday.",
        *notes(10, "filler"),
    ]
    ingested(api, "ash", facts, "f")
    assert generations(api)["active"]["lexical"] == "postgres"
    assert top_event(api, "ash", "ZX-4471") == "f_0"

    job = wait_job(api, reindex(api, lexical="bm25")["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    found = generations(api)
    assert (found["active"]["lexical"], found["retired"]["lexical"]) == ("bm25", "postgres")
    assert top_event(api, "ash", "ZX-4471") == "f_0"
    assert top_event(api, "ash", "Okafor") == "f_1"
    ingested(api, "ash", ["Renew the passport, form DS-82, before March."], "new")
    assert top_event(api, "ash", "DS-82") == "new_0"  # a live write holds its terms too


def test_verify_repairs_a_lost_shard(make_system, own_database: Services) -> None:
    system = make_system(on=own_database, PERSONA_REINDEX_VERIFY_EVERY_S="1", **QUICK)
    api = start(system, beat=False)
    ingested(api, "lost", notes(60, "lost"), "l")
    shard = system.data_dir / "qdrant" / generations(api)["active"]["collection"]

    def lose_the_shard() -> None:
        assert system.worker is not None
        system.worker.stop()
        assert shard.is_dir()
        shutil.rmtree(shard)
        system.start_worker()
        assert footprint(api, "lost") == {"items": 60, "chunks": 60, "points": 0}

    lose_the_shard()
    response = api.post("/v1/reindex/verify", json={})
    assert response.status_code == 202, response.text
    job = wait_job(api, response.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert (job["result"]["missing"], job["result"]["orphans"]) == (60, 0)
    assert footprint(api, "lost") == {"items": 60, "chunks": 60, "points": 60}
    for i in (0, 31, 59):
        assert top_event(api, "lost", f"lost review of budget line {i}") == f"l_{i}"

    lose_the_shard()  # again, and this time only the schedule (beat) repairs it
    system.start_beat()
    wait_for(
        lambda: footprint(api, "lost")["points"] == 60, timeout=90, what="the scheduled verify"
    )


def test_a_user_deleted_mid_reindex_is_in_neither_generation(
    make_system, own_database: Services
) -> None:
    system = make_system(
        on=own_database,
        PERSONA_REINDEX_KEEP_OLD_S="3600",
        PERSONA_REINDEX_PAGE_ITEMS="4",
        PERSONA_INGEST_SWEEP_INTERVAL_S="1",
    )
    api = start(system)
    ingested(api, "gone", notes(200, "gone"), "g")
    ingested(api, "stays", notes(50, "stays"), "s")
    engine = engine_of(own_database)
    pk = user_pk(engine, ORG, "gone")
    accepted = reindex(api)
    progress_reaches(api, accepted["job_id"], 8)
    deletion = api.delete("/v1/end-users/gone")
    assert deletion.status_code == 202, deletion.text
    assert wait_job(api, deletion.json()["job_id"])["status"] == "succeeded"
    assert wait_job(api, accepted["job_id"], timeout=300)["status"] == "succeeded"

    found = generations(api)
    assert found["active"]["id"] == 2
    assert found["retired"]["id"] == 1
    assert residue(system.call, org_id(engine, ORG), pk) == ZERO
    assert footprint(api, "stays") == {"items": 50, "chunks": 100, "points": 100}  # 2 gens


def test_a_user_reindexed_in_place_and_summaries_rebuilt(
    make_system, own_database: Services
) -> None:
    system = make_system(on=own_database, **QUICK)
    api = start(system, beat=False)
    ingested(api, "one", notes(30, "one"), "o")
    ingested(api, "two", notes(20, "two"), "t")
    before = api.get("/summary", params={"user_id": "one"})
    assert before.status_code == 200, before.text

    # From the command line, as an operator would: it follows the job to its end.
    shown = persona(system, "reindex", "--user", "one")
    assert shown.returncode == 0, shown.stderr
    assert "on generation 1" in shown.stdout  # in place: the active generation
    result = json.loads(shown.stdout[shown.stdout.index("{") :])
    assert result["items"] == 30
    assert result["repaired"] == {"missing": 0, "orphans": 0}
    assert footprint(api, "one") == {"items": 30, "chunks": 30, "points": 30}
    assert top_event(api, "one", "one review of budget line 12") == "o_12"
    assert [g["id"] for g in api.get("/v1/generations").json()["generations"]] == [1]

    shown = persona(system, "summaries", "rebuild", "--user", "one", "--detach")
    assert shown.returncode == 0, shown.stderr
    queued = re.search(r"job (\w+) queued", shown.stdout)
    assert queued is not None, shown.stdout
    rebuilt = wait_job(api, queued.group(1))
    assert rebuilt["status"] == "succeeded", rebuilt
    assert rebuilt["progress"]["done"] == rebuilt["progress"]["total"] == 1
    assert rebuilt["result"]["summaries"] >= 1
    assert api.get("/summary", params={"user_id": "one"}).status_code == 200


def persona(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    """The `persona` command against this deployment, as its operator runs it."""
    env = {**system.env(), "PERSONA_URL": system.url, "PERSONA_API_KEY": BOOTSTRAP_KEY}
    return subprocess.run(
        [PERSONA, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_commands_say_where_no_system_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    shown = subprocess.run(
        [PERSONA, "reindex", "--model", "mpnet"],
        env={**env, "PERSONA_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 2
    assert "no running system found" in shown.stderr


def test_who_may_reprocess_what(make_system, own_database: Services) -> None:
    system = make_system(on=own_database)
    system.start_gateway()
    api = httpx.Client(base_url=system.url, headers={"X-API-Key": BOOTSTRAP_KEY}, timeout=30)
    assert api.put("/register", json={"user_id": "mine"}).status_code in {200, 201}
    with session_scope(engine_of(own_database)) as session:
        admin_key = keys.create_key(session, ORG, ["read_write", "admin"], "admin")
        read_key = keys.create_key(session, ORG, ["read"], "reader")
    admin = httpx.Client(base_url=system.url, headers={"X-API-Key": admin_key}, timeout=30)
    reader = httpx.Client(base_url=system.url, headers={"X-API-Key": read_key}, timeout=30)

    def code(client: httpx.Client, path: str, body: dict) -> tuple[int, str]:
        response = client.post(path, json=body)
        return response.status_code, response.json().get("error", {}).get("code", "")

    assert code(reader, "/v1/reindex", {"user_id": "mine"}) == (403, "FORBIDDEN")
    assert code(admin, "/v1/reindex", {}) == (403, "FORBIDDEN")  # every org: the operator's
    assert code(admin, "/v1/reindex", {"model": "mpnet"}) == (403, "FORBIDDEN")
    assert code(admin, "/v1/summaries/rebuild", {}) == (403, "FORBIDDEN")
    assert code(admin, "/v1/reindex", {"user_id": "nobody"}) == (404, "USER_NOT_FOUND")
    assert code(api, "/v1/reindex", {"model": "nope"}) == (422, "VALIDATION_ERROR")
    invalid = code(api, "/v1/reindex", {"model": "mpnet", "user_id": "mine"})
    assert invalid == (422, "VALIDATION_ERROR")
    assert code(api, "/v1/reindex", {"org_id": "no-such-org"}) == (404, "NOT_FOUND")
    assert admin.get("/v1/generations").status_code == 403
    assert api.get("/v1/generations").json() == {"generations": []}  # nothing indexed yet
    assert code(api, "/v1/reindex", {"user_id": "mine"}) == (409, "CONFLICT")

    assert reindex(api)["generation"] == 1
    assert code(api, "/v1/reindex", {})[0] == 409  # one generation built at a time

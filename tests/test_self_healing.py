"""`persona run` as an operator runs it, under faults, and what an erasure leaves on disk.

One `persona run` serves the module. First a user whose text carries a marker is
ingested, summarized, searched and erased: then no file of the data folder holds
the marker, PostgreSQL's own files excepted (see the README on what PostgreSQL
keeps and how long), and neither does the log. Then each child is killed with
SIGKILL in turn while ingest requests stream in: every one is started again, the
API answers only 2xx, 429 or 503 meanwhile, and every accepted item ends indexed
exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from pipeline.local.embedded.process import free_port
from tests.helpers import (
    events,
    footprint,
    start_persona_run,
    stop_persona_run,
    wait_for,
    wait_job,
)

CHILDREN = ("gateway", "worker", "beat", "redis", "postgres")
BATCH = 10


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    data: Path
    log: Path
    api: httpx.Client

    def pids(self) -> dict[str, int]:
        return json.loads((self.data / "run.json").read_text())["pids"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("persona-run")
    data, log, port = folder / "var", folder / "run.log", free_port()
    proc, key = start_persona_run(
        data,
        port,
        log,
        PERSONA_INGEST_SWEEP_INTERVAL_S="1",
        PERSONA_INGEST_REPUBLISH_AFTER_S="3",
        PERSONA_SUMMARIES_QUIET_S="600",
    )
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30)
    yield Running(proc, data, log, api)
    api.close()
    stop_persona_run(proc)


def holding(folder: Path, marker: bytes, skip: str = "") -> list[str]:
    """Files under `folder` (but those under `skip`) whose bytes contain `marker`."""
    found = []
    for path in folder.rglob("*"):
        relative = str(path.relative_to(folder))
        if path.is_file() and not (skip and relative.startswith(skip)):
            try:
                if marker in path.read_bytes():
                    found.append(relative)
            except (PermissionError, FileNotFoundError):
                continue
    return found


def test_an_erased_users_text_is_in_no_live_file_and_in_no_log(running: Running) -> None:
    marker = f"zqxmarker{uuid.uuid4().hex[:10]}"
    api, user = running.api, "marked"
    body = {
        "user_id": user,
        "events": events([f"My code word is {marker}, keep it.", "I like tea."]),
        "documents": [{"document_id": "d", "content": f"A note that names {marker} again."}],
    }
    job = wait_job(api, api.post("/ingest", json=body).json()["job_id"])
    assert job["status"] == "succeeded"
    assert marker in api.get("/summary", params={"user_id": user}).json()["summary"]
    found = api.post("/chunks", json={"user_id": user, "query": marker}).json()["chunks"]
    assert marker in found[0]["text"]
    before = holding(running.data, marker.encode(), skip="postgres")
    assert any(p.startswith("qdrant") for p in before), "the test must see what it looks for"
    assert any(p.startswith("redis") for p in before)

    erased = wait_job(api, api.post("/delete", json={"user_id": user}).json()["job_id"])
    assert erased["status"] == "succeeded", erased
    assert erased["result"]["compacted"] == {"qdrant": True, "redis": True}
    assert holding(running.data, marker.encode(), skip="postgres") == []
    for log in (running.log, running.data / "postgres" / "postgres.log"):
        assert marker not in log.read_text(errors="replace"), f"user content in {log.name}"
    mode = running.data.stat().st_mode & 0o777
    assert mode in {0o700, 0o710}, oct(mode)
    loose = [str(p) for p in running.data.rglob("*") if p.is_file() and p.stat().st_mode & 0o077]
    assert loose == [], "data files are their owner's alone"


@dataclass
class Stream:
    """Ingest requests for one user in batches of new events, retried as a client would
    (on 429 and 503 after Retry-After, on a dropped connection at once)."""

    api: httpx.Client
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0
    sent: set[str] = field(default_factory=set)
    jobs: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        batch = 0
        while not self.stop.is_set():
            body = {"user_id": "streamer", "events": events(["x"] * BATCH, f"b{batch}")}
            for item, n in zip(body["events"], range(BATCH), strict=True):
                item["content"] = f"Batch {batch} note {n}: the plan for week {n} is ready."
            while True:
                try:
                    response = self.api.post("/ingest", json=body)
                except httpx.TransportError:
                    self.dropped += 1
                    continue
                self.statuses[response.status_code] += 1
                if response.status_code == 202:
                    self.jobs.append(response.json()["job_id"])
                    self.sent.update(e["event_id"] for e in body["events"])
                    break
                if response.status_code not in {429, 503}:
                    return  # an answer the contract does not allow: the test fails on it
                self.stop.wait(float(response.headers.get("Retry-After", "1")))
            batch += 1


def answers_again(api: httpx.Client, child: str) -> bool:
    """A 2xx to a request that needs `child` (a search needs the worker; anything
    authenticated needs the gateway and both stores)."""
    try:
        if child == "worker":
            body = {"user_id": "streamer", "query": "plan"}
            return api.post("/chunks", json=body).status_code == 200
        return api.put("/register", json={"user_id": "probe"}).status_code == 200
    except httpx.TransportError:
        return False


def test_each_child_killed_in_turn_is_restarted_and_nothing_is_lost(running: Running) -> None:
    stream = Stream(running.api)
    producer = threading.Thread(target=stream.run)
    producer.start()
    back_after: dict[str, float] = {}
    try:
        wait_for(lambda: len(stream.jobs) >= 3, what="the stream to start")
        for child in CHILDREN:
            pid = running.pids()[child]
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_for(
                lambda child=child, pid=pid: running.pids().get(child) not in {None, pid},
                timeout=90,
                what=f"{child} to be started again",
            )
            wait_for(
                lambda child=child: answers_again(running.api, child),
                timeout=60,
                what=f"a 2xx again after {child}",
            )
            back_after[child] = round(time.monotonic() - killed_at, 1)
            accepted = len(stream.jobs)
            wait_for(lambda a=accepted: len(stream.jobs) > a, timeout=60, what="more accepted")
    finally:
        stream.stop.set()
        producer.join(timeout=120)
    print(f"\nback to 2xx after SIGKILL (s): {back_after}")
    print(f"answers: {dict(stream.statuses)}, dropped connections: {stream.dropped}")
    assert set(stream.statuses) <= {202, 429, 503}, stream.statuses
    for job_id in stream.jobs:
        assert wait_job(running.api, job_id, timeout=240)["status"] == "succeeded"
    assert footprint(running.api, "streamer") == {
        "items": len(stream.sent),
        "chunks": len(stream.sent),
        "points": len(stream.sent),
    }
    assert running.proc.poll() is None, "persona run itself kept running"

"""What many tests share: waiting on facts, sample items, and looking into the stores.

`wait_for` is the one place a test sleeps: it polls a fact until it holds or a
deadline passes. A bare sleep proves nothing on a machine faster or slower
than the one it was tuned on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from pipeline import keys
from pipeline.db.engine import session_scope
from pipeline.messages import Footprint, Task
from tests.fakes.webhook_receiver import Receiver

T = TypeVar("T")
PERSONA = str(Path(sys.executable).with_name("persona"))
ROOT = Path(__file__).resolve().parent.parent

START = datetime(2025, 10, 1, 9, 0, tzinfo=UTC)
FACTS = [
    "Let's move stand-up to 2 PM starting next week.",
    "My sister Maya's birthday dinner is at Casa Lupita on Friday.",
    "The dentist appointment is moved to Tuesday morning at 8.",
    "I prefer window seats on long flights, never the aisle.",
    "Reminder: renew the car insurance with Allianz before November.",
]
ZERO = {"postgres_rows": 0, "qdrant_points": 0, "redis_keys": 0}
# A deployment whose sweeper re-sends lost jobs within seconds (fault tests).
FAST_SWEEP = {
    "PERSONA_INGEST_SWEEP_INTERVAL_S": "1",
    "PERSONA_INGEST_REPUBLISH_AFTER_S": "2",
    "PERSONA_INGEST_STUCK_AFTER_S": "6",
    "PERSONA_INGEST_JOB_TIME_LIMIT_S": "5",  # below the stuck time, as the settings require
}


def wait_for(
    check: Callable[[], T], timeout: float = 60.0, what: str = "the condition", poll: float = 0.1
) -> T:
    """Poll `check` until it returns something truthy, and return that; fail with `what`
    once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)
    return value


async def until(check: Callable[[], object], what: str, within_s: float = 10.0) -> None:
    """`wait_for` on an event loop: let the loop's other tasks run until `check()` is true,
    failing with `what` after `within_s` seconds."""
    try:
        async with asyncio.timeout(within_s):
            while not check():  # noqa: ASYNC110 - a fact with no event to await
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out after {within_s:g}s waiting for {what}") from None


def wait_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict:
    """The job once it has finished (succeeded or failed)."""

    def finished() -> dict | None:
        job = client.get(f"/jobs/{job_id}").json()
        return job if job["status"] in {"succeeded", "failed"} else None

    return wait_for(finished, timeout, f"job {job_id} to finish", poll=0.2)


def org_client(url: str, engine: Engine, scopes: tuple[str, ...] = ("read_write",)) -> httpx.Client:
    """A client of a new organization of its own on the gateway at `url`; the
    organization's name is `client.org`."""
    org = f"org-{uuid.uuid4().hex[:12]}"
    with session_scope(engine) as session:
        key = keys.create_key(session, org, list(scopes), "test")
    client = httpx.Client(base_url=url, headers={"Authorization": f"x-api-key: {key}"}, timeout=30)
    client.org = org  # type: ignore[attr-defined]
    return client


def events(facts: list[str], prefix: str = "evt") -> list[dict]:
    return [
        {
            "event_id": f"{prefix}_{i}",
            "type": "message",
            "timestamp": (START + timedelta(days=i)).isoformat(),
            "content": fact,
        }
        for i, fact in enumerate(facts)
    ]


def long_document(words: str, paragraphs: int = 12) -> str:
    return "\n\n".join(
        " ".join(f"Section {p} sentence {i}: the {words} plan needs review." for i in range(8))
        for p in range(paragraphs)
    )


def org_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM organizations WHERE name = :n"), {"n": name}
        ).scalar_one()


def user_pk(engine: Engine, org: str, user_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT u.id FROM users u JOIN organizations o ON o.id = u.org_id "
                "WHERE o.name = :org AND u.user_id = :user"
            ),
            {"org": org, "user": user_id},
        ).scalar_one()


def footprint(client: httpx.Client, user_id: str) -> dict[str, int]:
    """Items and chunk rows in PostgreSQL and points in the index, as the admin route
    `GET /v1/end-users/{id}/footprint` counts them (`client` holds an admin key)."""
    response = client.get(f"/v1/end-users/{user_id}/footprint")
    assert response.status_code == 200, response.text
    counts = response.json()
    rows = counts["postgres"]
    return {"items": rows["items"], "chunks": rows["chunks"], "points": counts["qdrant_points"]}


def residue(call: Callable[[Task, Footprint], dict], org: int, pk: int) -> dict[str, int]:
    """What is left of a user (by row id, which outlives the row) in every store, asked of
    the deployment's workers (`System.call`)."""
    counts = call(Task.FOOTPRINT, Footprint(org_id=org, user_pk=pk))
    return {
        "postgres_rows": sum(counts["postgres"].values()),
        "qdrant_points": counts["qdrant_points"],
        "redis_keys": counts["redis_keys"],
    }


def rows_of(engine: Engine, pk: int) -> dict[str, int]:
    """Rows naming the user in every table with a user_pk column (jobs are the record of
    work and stay), and the user row itself: counted here, not by the system under test."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = 'user_pk' AND table_schema = current_schema() "
                "AND table_name <> 'jobs'"
            )
        ).scalars()
        counts = {
            t: conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE user_pk = :pk"),  # noqa: S608
                {"pk": pk},
            ).scalar_one()
            for t in tables
        }
        counts["users"] = conn.execute(
            text("SELECT count(*) FROM users WHERE id = :pk"), {"pk": pk}
        ).scalar_one()
    return counts


def start_persona_run(
    data_dir: Path, port: int, log: Path, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`persona run` as a newcomer starts it (no PERSONA_* of ours but `env`), its output
    appended to `log`; returns it once it printed its banner, with the API key shown
    there (the key itself on the start that made it, else where it is kept)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PERSONA_") or k == "PERSONA_EMBEDDING_MODELS_DIR"
    }
    clean.update(PERSONA_DATA_DIR=str(data_dir), PERSONA_PORT=str(port), **env)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [PERSONA, "run"], env=clean, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )

    def key() -> str | None:
        text = log.read_text(errors="replace")
        if proc.poll() is not None:
            pytest.fail(f"persona run exited {proc.returncode}:\n{text[-4000:]}")
        match = re.search(r"API key +(.+)", text.split("---- start")[-1])
        return match.group(1).strip() if match else None

    try:
        return proc, wait_for(key, timeout=120, what="persona run to print its key", poll=0.2)
    except AssertionError:
        proc.kill()
        pytest.fail(f"persona run not ready:\n{log.read_text()[-4000:]}")


def stop_persona_run(proc: subprocess.Popen[bytes]) -> float:
    """Ctrl-C, as a person stops it; the seconds it took to stop everything."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(90) == 0
    return time.monotonic() - t0


# Webhooks: a deployment that may reach the test's own receiver on 127.0.0.1, and
# retries within seconds.
WEBHOOK_SETTINGS = {
    "PERSONA_WEBHOOKS_ALLOW_PRIVATE_URLS": "true",  # the receiver is on 127.0.0.1
    "PERSONA_WEBHOOKS_RETRY_SCHEDULE_S": "[1, 1, 1, 1]",
    "PERSONA_WEBHOOKS_POLL_S": "0.5",
    "PERSONA_WEBHOOKS_TIMEOUT_S": "2",
    "PERSONA_WEBHOOKS_ROTATION_GRACE_S": "3",
    "PERSONA_SUMMARIES_QUIET_S": "600",
}


def event(content: str, **extra: str) -> dict:
    """An event as a producer sends it: no id of its own (the message's stands in)."""
    return {"type": "message", "timestamp": "2025-10-10T09:00:00Z", "content": content, **extra}


def ingest_one(admin: httpx.Client, user_id: str, content: str) -> str:
    """An `/ingest` of one event; its job id."""
    body = {"user_id": user_id, "events": [event(content, event_id=uuid.uuid4().hex)]}
    response = admin.post("/ingest", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def send_signed(
    client: httpx.Client,
    source_id: str,
    secret: str,
    body: dict,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> httpx.Response:
    """A producer's signed POST, with the Standard Webhooks library."""
    raw = json.dumps(body)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, raw),
        "content-type": "application/json",
    }
    return client.post(f"/webhooks/{source_id}", content=raw, headers=headers)


def new_source(admin: httpx.Client, **fields: object) -> dict:
    response = admin.post("/v1/sources", json={"name": f"crm-{uuid.uuid4().hex[:6]}", **fields})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    return created


def new_endpoint(admin: httpx.Client, receiver: Receiver, events: list[str]) -> dict:
    response = admin.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": events})
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    return response.json()

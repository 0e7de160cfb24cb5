"""Webhooks on real processes: signed messages in from a producer, signed events out to a
real local receiver that verifies each one with the `standardwebhooks` library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from tests.conftest import RedisDatabases, System
from tests.fakes.webhook_receiver import webhook_receiver
from tests.helpers import (
    WEBHOOK_SETTINGS,
    event,
    ingest_one,
    new_endpoint,
    new_source,
    org_client,
    send_signed,
    wait_for,
    wait_job,
)

ALL_EVENTS = ["job.succeeded", "job.failed", "user.erased", "summary.updated"]


@pytest.fixture(scope="module")
def deployment(services, redis_dbs: RedisDatabases, tmp_path_factory) -> Iterator[System]:
    db = redis_dbs.take()
    system = System(services, db, tmp_path_factory.mktemp("webhooks"), dict(WEBHOOK_SETTINGS))
    system.start_gateway()
    system.start_worker()
    system.start_beat()
    yield system
    system.stop()
    redis_dbs.give_back(db)


@pytest.fixture
def admin(deployment: System, engine) -> Iterator[httpx.Client]:
    client = org_client(deployment.url, engine, ("read_write", "admin"))
    yield client
    client.close()


def test_a_signed_message_is_ingested_and_its_redelivery_counted_as_duplicates(
    admin: httpx.Client,
) -> None:
    source = new_source(admin)
    listed = admin.get("/v1/sources").json()["sources"]
    assert [s["source_id"] for s in listed] == [source["source_id"]]
    assert "secret" not in listed[0], "shown once, when made"
    body = {"user_id": "w1", "events": [event("Standup moved to 2 PM on Thursdays.")]}
    first = send_signed(admin, source["source_id"], source["secret"], body, webhook_id="msg_first")
    assert first.status_code == 202, first.text
    assert first.json()["ingested"] == {"events": 1, "documents": 0}
    assert wait_job(admin, first.json()["job_id"])["status"] == "succeeded"
    found = admin.post("/chunks", json={"user_id": "w1", "query": "standup"}).json()["chunks"]
    assert found[0]["event_id"] == "msg_first:events:0", "the message id stands in for an item id"

    again = send_signed(admin, source["source_id"], source["secret"], body, webhook_id="msg_first")
    assert again.status_code == 202
    assert again.json()["duplicates"] == 1
    assert again.json()["ingested"] == {"events": 0, "documents": 0}
    assert admin.get(f"/jobs/{again.json()['job_id']}").json()["counts"]["chunks"] == 0


def test_a_message_that_does_not_verify_writes_nothing(admin: httpx.Client) -> None:
    source = new_source(admin)
    body = {"user_id": "nope", "events": [event("should never be stored")]}
    raw = json.dumps(body)
    at = datetime.now(UTC)
    signature = Webhook(source["secret"]).sign("msg_t", at, raw)
    tampered = admin.post(
        f"/webhooks/{source['source_id']}",
        content=raw.replace("never", "NEVER"),
        headers={
            "webhook-id": "msg_t",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
    )
    stale = send_signed(
        admin, source["source_id"], source["secret"], body, at=at - timedelta(minutes=6)
    )
    unsigned = admin.post(f"/webhooks/{source['source_id']}", json=body)
    wrong = send_signed(admin, source["source_id"], "whsec_" + "A" * 32, body)
    for response in (tampered, stale, unsigned, wrong):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert admin.get("/v1/end-users/nope").status_code == 404, "nothing was written"
    unknown = send_signed(admin, "src_" + "0" * 26, source["secret"], body)
    assert unknown.status_code == 404


def test_the_old_secret_verifies_until_its_grace_ends(admin: httpx.Client) -> None:
    source = new_source(admin)
    rotated = admin.post(f"/v1/sources/{source['source_id']}/rotate")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != source["secret"]
    body = {"user_id": "r1", "events": [event("rotation day")]}

    def status(secret: str) -> int:
        return send_signed(admin, source["source_id"], secret, body).status_code

    wait_for(lambda: status(new_secret) == 202, timeout=5, what="the new secret to verify")
    assert status(source["secret"]) == 202, "within its grace the old secret verifies"
    wait_for(lambda: status(source["secret"]) == 401, timeout=10, what="the grace to end")
    assert status(new_secret) == 202


def test_a_mapping_reads_the_producers_own_json(admin: httpx.Client) -> None:
    mapping = {
        "items": "payload.messages",
        "user_id": "payload.account.id",
        "content": "item.text",
        "timestamp": "item.sent_at",
        "type": "'chat'",
    }
    source = new_source(admin, mapping=mapping)
    payload = {
        "account": {"id": "m1"},
        "messages": [
            {"text": "The offsite is in Porto in May.", "sent_at": 1760000000},
            {"text": "Book the Lisbon flights early.", "sent_at": 1760003600},
        ],
    }
    response = send_signed(
        admin, source["source_id"], source["secret"], payload, webhook_id="msg_map"
    )
    assert response.status_code == 202, response.text
    assert response.json()["ingested"]["events"] == 2
    assert wait_job(admin, response.json()["job_id"])["status"] == "succeeded"
    found = admin.post("/chunks", json={"user_id": "m1", "query": "Porto offsite"}).json()
    top = found["chunks"][0]
    assert (top["event_id"], top["type"]) == ("msg_map:0", "chat")
    assert top["timestamp"].startswith("2025-10-09")
    broken = send_signed(admin, source["source_id"], source["secret"], {"account": {"id": "m1"}})
    assert broken.status_code == 400
    assert "items" in broken.json()["error"]["message"]


def test_events_reach_the_endpoint_signed_once_each(admin: httpx.Client) -> None:
    with webhook_receiver() as receiver:
        endpoint = new_endpoint(admin, receiver, ALL_EVENTS)
        job_id = ingest_one(admin, "e1", "hello")

        def job_event() -> list:
            return [
                d for d in receiver.of_type("job.succeeded") if d.body["data"]["job_id"] == job_id
            ]

        [delivery] = wait_for(job_event, timeout=30, what="job.succeeded")
        assert delivery.verified
        assert delivery.body["data"]["counts"] == {"items": 1, "chunks": 1, "duplicates": 0}
        assert delivery.webhook_id.startswith("msg_")

        erased = admin.post("/delete", json={"user_id": "e1"}).json()["job_id"]
        assert wait_job(admin, erased)["status"] == "succeeded"
        [gone] = wait_for(lambda: receiver.of_type("user.erased"), timeout=30, what="user.erased")
        assert gone.verified
        assert gone.body["data"]["report"]["recheck"] == {
            "postgres_rows": 0,
            "qdrant_points": 0,
            "redis_keys": 0,
        }
        listed = admin.get(f"/v1/webhook-endpoints/{endpoint['endpoint_id']}/deliveries").json()
        assert all(d["status"] == "succeeded" for d in listed["deliveries"])


def test_a_failing_receiver_gets_the_same_event_until_it_takes_it(
    deployment: System, engine: Engine, admin: httpx.Client
) -> None:
    with webhook_receiver() as receiver:
        receiver.fail_first = 3
        endpoint = new_endpoint(admin, receiver, ["job.succeeded"])
        ingest_one(admin, "f1", "retry me")
        wait_for(lambda: len(receiver.deliveries) == 4, timeout=60, what="four attempts")
        assert len({d.webhook_id for d in receiver.deliveries}) == 1, "one webhook-id throughout"
        assert [d.answered for d in receiver.deliveries] == [500, 500, 500, 200]
        assert all(d.verified for d in receiver.deliveries)
        path = f"/v1/webhook-endpoints/{endpoint['endpoint_id']}/deliveries"

        def settled() -> dict | None:
            [one] = admin.get(path).json()["deliveries"]
            return one if one["status"] == "succeeded" else None

        one = wait_for(settled, timeout=10, what="the success to be recorded")
        assert one["attempts"] == 4
        assert [t["status_code"] for t in one["tries"]] == [500, 500, 500, 200]
        # Counted as they happen: this delivery alone was retried 3 times and taken once.
        with org_client(deployment.url, engine, ("operator",)) as operator:
            scraped = operator.get("/metrics").text
        attempts = {
            s.labels["state"]: s.value
            for family in text_string_to_metric_families(scraped)
            for s in family.samples
            if s.name == "persona_webhook_attempts_total"
        }
        assert attempts.get("pending", 0) >= 3
        assert attempts.get("succeeded", 0) >= 1
        retried = admin.post(f"{path}/{one['delivery_id']}/retry")
        assert retried.status_code == 202
        wait_for(lambda: len(receiver.deliveries) == 5, timeout=30, what="the manual retry")


def test_a_delivery_cut_by_a_dead_worker_is_sent_again(deployment: System, admin) -> None:
    with webhook_receiver() as receiver:
        receiver.hold_first = True
        new_endpoint(admin, receiver, ["job.succeeded"])
        ingest_one(admin, "k1", "cut")
        wait_for(lambda: receiver.deliveries, timeout=30, what="the first attempt")
        assert deployment.worker is not None
        deployment.worker.proc.kill()
        deployment.worker.proc.wait()
        deployment.start_worker()
        wait_for(lambda: len(receiver.deliveries) >= 2, timeout=60, what="the attempt again")
        first, again = receiver.deliveries[:2]
        assert again.webhook_id == first.webhook_id
        assert again.answered == 200


def test_an_erased_users_pending_events_are_dropped(admin: httpx.Client) -> None:
    with webhook_receiver() as receiver:
        receiver.fail_first = 10**6
        endpoint = new_endpoint(admin, receiver, ["job.succeeded"])
        job_id = ingest_one(admin, "d1", "bye")
        [failed, *_] = wait_for(lambda: receiver.deliveries, timeout=30, what="a failed attempt")
        assert failed.body["data"]["job_id"] == job_id
        path = f"/v1/webhook-endpoints/{endpoint['endpoint_id']}/deliveries"
        assert failed.webhook_id in {d["webhook_id"] for d in admin.get(path).json()["deliveries"]}
        erasure = admin.post("/delete", json={"user_id": "d1"}).json()["job_id"]
        assert wait_job(admin, erasure)["status"] == "succeeded"
        listed = {d["webhook_id"] for d in admin.get(path).json()["deliveries"]}
        assert failed.webhook_id not in listed, "the user's queued event went with the user"
        seen = len(receiver.deliveries)
        receiver.fail_first = 0
        wait_for(
            lambda: any(d.body["data"]["job_id"] == erasure for d in receiver.deliveries),
            timeout=30,
            what="the erasure's own job.succeeded",
        )
        assert all(d.webhook_id != failed.webhook_id for d in receiver.deliveries[seen:])


def test_private_addresses_are_refused_unless_allowed(tenant) -> None:
    response = tenant.client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x", "events": ["job.failed"]}
    )
    assert response.status_code == 400
    assert "private" in response.json()["error"]["message"]
    assert (
        tenant.client.post(
            "/v1/webhook-endpoints", json={"url": "ftp://example.com", "events": ["job.failed"]}
        ).status_code
        == 400
    )


def readme_example() -> tuple[str, str]:
    """The README's worked webhook example, as (set-up, producer) halves."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Webhooks") :]
    code = section[section.index("```python\n") + 10 :]
    code = code[: code.index("```")]
    split = code.index("# The producer")
    return code[:split], code[split:]


def test_the_readmes_worked_example_runs(deployment: System, admin: httpx.Client) -> None:
    setup, producer = readme_example()
    with webhook_receiver() as receiver:
        names: dict = {"KEY": admin.headers["authorization"].removeprefix("x-api-key: ")}
        here = {
            "http://127.0.0.1:8000": deployment.url,
            "https://agent.example.com/persona": receiver.url,
        }
        for old, new in here.items():
            assert old in setup + producer
            setup, producer = setup.replace(old, new), producer.replace(old, new)
        exec(setup, names)  # noqa: S102 (the README is ours)
        receiver.secret = names["endpoint"]["secret"]
        exec(producer, names)  # noqa: S102
        accepted = names["accepted"]
        assert accepted["ingested"] == {"events": 1, "documents": 0}
        [arrived] = wait_for(
            lambda: receiver.of_type("job.succeeded"), timeout=30, what="the job.succeeded"
        )
        assert arrived.verified
        assert arrived.body["data"]["job_id"] == accepted["job_id"]

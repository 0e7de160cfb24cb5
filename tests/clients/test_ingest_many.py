"""`ingest_many` against the running system: requests within the server's limits (items
and bytes), stable ids for items without their own, so a re-run adds nothing twice,
and a batch the server finds too large halved until it is accepted."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from persona_client import Persona, models, stable_id
from persona_client.batching import plan

from tests.clients.conftest import Exchanges
from tests.conftest import System, Tenant
from tests.helpers import START


def notes(count: int, words: str = "note") -> list[dict]:
    """Events without ids: `ingest_many` derives them from what each one holds."""
    return [
        {
            "type": "note",
            "timestamp": (START + timedelta(hours=i)).isoformat(),
            "content": f"The {words} number {i} says the train to Lyon leaves at {i % 24}:15.",
        }
        for i in range(count)
    ]


def sizes(exchanges: Exchanges) -> list[tuple[int, int]]:
    """(items, body bytes) of each `/ingest` request sent."""
    found = []
    for request in exchanges.to("/ingest"):
        body = json.loads(request.content)
        found.append(
            (len(body.get("events", [])) + len(body.get("documents", [])), len(request.content))
        )
    return found


def test_splits_by_count_and_a_rerun_adds_nothing_twice(
    persona: Persona, worker, user_id: str, exchanges: Exchanges
) -> None:
    items = notes(10)
    first = persona.ingest_many(user_id, items, batch_size=3, source="notes")
    assert [n for n, _ in sizes(exchanges)] == [3, 3, 3, 1]
    assert (first.events, first.duplicates, len(first.job_ids)) == (10, 0, 4)

    exchanges.clear()
    again = persona.ingest_many(user_id, list(reversed(items)), batch_size=4, source="notes")
    assert [n for n, _ in sizes(exchanges)] == [4, 4, 2]
    assert (again.events, again.duplicates) == (0, 10)
    for job_id in first.job_ids + again.job_ids:
        persona.wait_for_job(job_id)
    assert persona.footprint(user_id).postgres["items"] == 10


def test_ids_come_from_the_content_and_given_ids_are_kept(
    persona: Persona, worker, user_id: str
) -> None:
    items = notes(3)
    mine = {**items[0], "event_id": "mine-1", "content": "A fact with an id of its own."}
    edited = {**items[1], "content": items[1]["content"] + " Platform 4."}
    first = persona.ingest_many(user_id, items)
    second = persona.ingest_many(user_id, [*items, mine, edited])
    assert (second.events, second.duplicates) == (2, 3)
    persona.wait_for_job(first.job_ids[0])
    persona.wait_for_job(second.job_ids[0])

    found = persona.chunks(user_id, "A fact with an id of its own", top_k=10)
    ids = {c.event_id for c in found.chunks}
    assert "mine-1" in ids
    whole = models.EventIn.model_validate({**items[2], "event_id": "x"})
    derived = stable_id("events", whole.model_dump(mode="json", exclude={"event_id"}))
    assert derived in ids
    assert derived.startswith("evt_")


def test_splits_by_bytes_and_packs_each_body_full(
    persona: Persona, user_id: str, exchanges: Exchanges
) -> None:
    documents = [
        {"title": f"Memo {i}", "content": f"Memo {i}. " + "Quarterly planning notes. " * 40}
        for i in range(9)
    ]
    limit = 3000
    summary = persona.ingest_many(user_id, documents, max_bytes=limit)
    sent = sizes(exchanges)
    assert summary.documents == 9
    assert sum(n for n, _ in sent) == 9
    assert all(size <= limit for _, size in sent)
    assert len(sent) > 1
    item_bytes = max(
        len(p.json) for b in plan(user_id, documents, None, 1000, 10**9) for p in b.items
    )
    # greedy: a body closed early would have had room for the next document
    assert all(size + item_bytes + 1 > limit for _, size in sent[:-1])

    exchanges.clear()
    assert persona.ingest_many(user_id, documents, max_bytes=limit).duplicates == 9


def test_the_planned_size_is_the_body_sent() -> None:
    items = [*notes(4), {"title": "T", "content": "é" * 50}, {"document_id": "d", "content": "x"}]
    for batch in plan("ü-user", items, "src", batch_size=1000, max_bytes=10**6):
        assert batch.size == len(batch.body())
        body = json.loads(batch.body())
        assert (len(body["events"]), len(body["documents"]), body["source"]) == (4, 2, "src")


def test_a_batch_the_server_finds_too_large_is_halved(
    make_system, tenant: Tenant, user_id: str
) -> None:
    deployment: System = make_system(PERSONA_INGEST_MAX_ITEMS="4")
    deployment.start_gateway()  # no worker: acceptance is all this needs
    exchanges = Exchanges()
    with (
        httpx.Client(timeout=30, event_hooks=exchanges.hooks()) as http,
        Persona(deployment.url, tenant.key, http_client=http) as persona,
    ):
        summary = persona.ingest_many(user_id, notes(10))
    assert summary.events == 10
    assert [n for n, _ in sizes(exchanges)] == [10, 5, 2, 3, 5, 2, 3]
    assert [r.status_code for r in exchanges.responses] == [413, 413, 202, 202, 413, 202, 202]

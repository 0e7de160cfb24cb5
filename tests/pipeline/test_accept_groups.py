"""Requests accepted in groups (the gateway's group commit): one transaction, but each
request its own job and its own answer, as if they had come one after the other."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api_gateway.group_commit import GroupCommit
from pipeline import keys, users
from pipeline.config import IngestSettings
from pipeline.db.models import Item, Job
from pipeline.errors import PayloadTooLarge, UserDeleting, UserNotFound
from pipeline.ingest import accept
from pipeline.schemas import IngestRequest
from tests.helpers import events, until

LIMITS = IngestSettings()


def request(user_id: str, *ids: str) -> IngestRequest:
    return IngestRequest.model_validate(
        {
            "user_id": user_id,
            "events": [
                {"event_id": i, "content": f"note {i}", "timestamp": "2025-10-02T10:00:00Z"}
                for i in ids
            ],
        }
    )


def test_each_request_of_a_group_gets_its_own_job_and_counts(db: Session) -> None:
    org = keys.ensure_org(db, f"groups-{uuid.uuid4().hex[:8]}")
    group = [(org, request("a", "e1", "e2")), (org, request("b", "e1")), (org, request("a", "e2"))]

    first, second, third = accept.accept_all(db, group, LIMITS, lane="lane-1")

    assert isinstance(first, accept.Accepted)
    assert isinstance(second, accept.Accepted)
    assert isinstance(third, accept.Accepted)
    assert (first.events, first.duplicates, first.queued) == (2, 0, True)
    assert (second.events, second.duplicates) == (1, 0), "another user's e1 is new"
    assert (third.events, third.duplicates, third.queued) == (0, 1, False), "a's e2 came first"
    assert len({first.job_id, second.job_id, third.job_id}) == 3
    jobs = {j.id: j for j in db.execute(select(Job).where(Job.org_id == org)).scalars()}
    assert jobs[first.job_id].status == "queued"
    assert jobs[first.job_id].items == 2
    assert jobs[first.job_id].lane == "lane-1"
    assert jobs[third.job_id].status == "succeeded", "nothing new: done at once"
    stored = db.execute(select(func.count()).select_from(Item).where(Item.org_id == org))
    assert stored.scalar_one() == 3


def test_a_refused_request_writes_nothing_and_the_others_go_on(db: Session) -> None:
    org = keys.ensure_org(db, f"groups-{uuid.uuid4().hex[:8]}")
    users.register(db, org, "going", {}, None).user.status = "deleting"
    db.flush()
    huge = IngestRequest.model_validate(
        {"user_id": "big", "events": events(["x" * (LIMITS.max_event_bytes + 1)])}
    )
    group = [(org, request("going", "g1")), (org, huge), (org, request("fine", "f1"))]

    gone, too_large, fine = accept.accept_all(db, group, LIMITS)

    assert isinstance(gone, UserDeleting)
    assert isinstance(too_large, PayloadTooLarge)
    assert isinstance(fine, accept.Accepted)
    assert fine.events == 1
    owners = db.execute(select(Job.user_id).where(Job.org_id == org)).scalars()
    assert list(owners) == ["fine"]
    with pytest.raises(UserNotFound):
        users.find(db, org, "big")


def test_requests_arriving_during_a_write_share_the_next_one() -> None:
    release, started = threading.Event(), threading.Event()
    groups: list[list[int]] = []

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(items)
        started.set()
        if len(groups) == 1:
            release.wait(10)  # the first write is in flight while the others arrive
        return [ValueError(f"refused {i}") if i == 3 else i * 10 for i in items]

    async def scenario() -> list[int | BaseException]:
        commits: GroupCommit[int, int] = GroupCommit(write, lambda _: 1, 100, in_flight=1)
        first = asyncio.create_task(commits.submit(0))
        await asyncio.to_thread(started.wait, 10)
        rest = [asyncio.create_task(commits.submit(i)) for i in range(1, 5)]
        await until(lambda: commits.waiting == 4, what="the four to queue")
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(scenario())

    assert groups == [[0], [1, 2, 3, 4]], "a lone request goes at once; the rest together"
    assert results[:3] + results[4:] == [0, 10, 20, 40]
    assert isinstance(results[3], ValueError), "a refused item fails alone"


def test_a_failed_write_answers_every_request_of_its_group() -> None:
    def write(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("the database went away")

    async def scenario() -> list[int | BaseException]:
        commits: GroupCommit[int, int] = GroupCommit(write, lambda _: 1, 100)
        return await asyncio.gather(*(commits.submit(i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, ConnectionError) for r in asyncio.run(scenario()))


def test_a_group_holds_what_fits_and_a_heavy_request_goes_alone() -> None:
    groups: list[list[int]] = []
    gate, started = threading.Event(), threading.Event()

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(items)
        started.set()
        gate.wait(10)
        return list(items)

    async def scenario() -> None:
        commits: GroupCommit[int, int] = GroupCommit(write, lambda i: i, 10, in_flight=1)
        first = asyncio.create_task(commits.submit(1))
        await asyncio.to_thread(started.wait, 10)
        rest = [asyncio.create_task(commits.submit(i)) for i in (4, 5, 30, 2)]
        await until(lambda: commits.waiting == 4, what="the four to queue")
        gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    assert groups == [[1], [4, 5], [30], [2]]

"""The refresh debounce on a real Redis: one check per burst, one claim per quiet period."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from pipeline.summaries import debounce

QUIET_S = 0.3


@pytest.fixture
def cache(services) -> redis.Redis:
    return redis.Redis.from_url(f"{services.redis_url}/0")


@pytest.fixture
def user_pk() -> int:
    return random.randrange(10**9, 10**12)


def test_a_burst_schedules_one_check_and_the_last_note_sets_the_due_time(cache, user_pk) -> None:
    with ThreadPoolExecutor(8) as pool:
        scheduled = list(pool.map(lambda _: debounce.note(cache, user_pk, QUIET_S), range(200)))
    assert scheduled.count(True) == 1
    first = debounce.claim(cache, user_pk, QUIET_S)
    assert not first.claimed
    assert first.wait_s is not None
    assert 0 < first.wait_s <= QUIET_S


def test_only_a_check_after_the_quiet_period_claims_and_only_once(cache, user_pk) -> None:
    assert debounce.note(cache, user_pk, QUIET_S)
    time.sleep(QUIET_S / 2)
    assert not debounce.note(cache, user_pk, QUIET_S)  # a later job moves the due time
    time.sleep(QUIET_S * 0.7)
    early = debounce.claim(cache, user_pk, QUIET_S)
    assert not early.claimed
    assert early.wait_s is not None
    time.sleep(early.wait_s + 0.05)
    with ThreadPoolExecutor(4) as pool:  # checks racing: one wins
        outcomes = list(pool.map(lambda _: debounce.claim(cache, user_pk, QUIET_S), range(4)))
    assert [o.claimed for o in outcomes].count(True) == 1
    assert all(o.wait_s is None for o in outcomes)
    assert cache.keys(f"persona:user:{user_pk}:*") == []
    assert debounce.note(cache, user_pk, QUIET_S), "new data after a refresh starts a new chain"

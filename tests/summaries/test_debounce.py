"""The refresh debounce on a real Redis: one check per burst, one claim per quiet period.

The scripts run on Redis's clock, so the tests read that clock and the due time
Redis stored, rather than betting on how long a sleep of their own lasts.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from pipeline import keyspace
from pipeline.summaries import debounce
from tests.helpers import wait_for

QUIET_S = 0.3
LONG_QUIET_S = 60.0  # so long that no check can be due while a test looks


@pytest.fixture
def cache(services) -> redis.Redis:
    return redis.Redis.from_url(f"{services.redis_url}/0")


@pytest.fixture
def user_pk() -> int:
    return random.randrange(10**9, 10**12)


def redis_ms(cache: redis.Redis) -> int:
    seconds, micros = cache.time()
    return seconds * 1000 + micros // 1000


def due_ms(cache: redis.Redis, user_pk: int) -> int:
    return int(cache.get(debounce.due_key(user_pk)))


def test_a_burst_schedules_one_check_and_the_last_note_sets_the_due_time(cache, user_pk) -> None:
    with ThreadPoolExecutor(8) as pool:
        scheduled = list(
            pool.map(lambda _: debounce.note(cache, user_pk, LONG_QUIET_S), range(200))
        )
    assert scheduled.count(True) == 1
    first = debounce.claim(cache, user_pk, LONG_QUIET_S)
    assert not first.claimed
    assert first.wait_s is not None
    assert 0 < first.wait_s <= LONG_QUIET_S


def test_only_a_check_after_the_quiet_period_claims_and_only_once(cache, user_pk) -> None:
    assert debounce.note(cache, user_pk, LONG_QUIET_S)
    due = due_ms(cache, user_pk)
    wait_for(lambda: redis_ms(cache) > due - LONG_QUIET_S * 1000, what="Redis's clock to move")
    assert not debounce.note(cache, user_pk, LONG_QUIET_S), "a check is pending already"
    assert due_ms(cache, user_pk) > due, "a later job moves the due time"
    early = debounce.claim(cache, user_pk, LONG_QUIET_S)
    assert not early.claimed
    assert early.wait_s is not None
    assert early.wait_s > LONG_QUIET_S / 2

    debounce.note(cache, user_pk, QUIET_S)  # the last job of the burst: due soon
    due = due_ms(cache, user_pk)
    wait_for(lambda: redis_ms(cache) >= due, what="the due time on Redis's clock")
    with ThreadPoolExecutor(4) as pool:  # checks racing: one wins
        outcomes = list(pool.map(lambda _: debounce.claim(cache, user_pk, QUIET_S), range(4)))
    assert [o.claimed for o in outcomes].count(True) == 1
    assert all(o.wait_s is None for o in outcomes)
    assert cache.keys(keyspace.user_pattern(user_pk)) == []
    assert debounce.note(cache, user_pk, QUIET_S), "new data after a refresh starts a new chain"

"""Retries, against a local stand-in that answers 429 and 503 on cue (a gateway cannot):
only those two are sent again, never sooner than `Retry-After` asks, with jittered
backoff when it does not say, and up to the policy's number of attempts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from persona_client import (
    AsyncPersona,
    Conflict,
    NotFound,
    Persona,
    RateLimited,
    Retries,
    ServerError,
    Unavailable,
)
from persona_client.errors import retry_after

from tests.fakes.scripted_server import envelope, scripted_server

OK = (200, {}, {"status": "ok"})


@pytest.mark.parametrize(("status", "code"), [(429, "RATE_LIMITED"), (503, "UNAVAILABLE")])
def test_429_and_503_are_retried_after_retry_after(status: int, code: str) -> None:
    script = [(status, {"Retry-After": "1"}, envelope(code, "later")), OK]
    with scripted_server(script) as server, Persona(server.url, "pk_x") as persona:
        assert persona.health() == {"status": "ok"}
    first, second = server.arrivals
    assert second.at - first.at >= 1.0
    assert second.headers["authorization"] == "Bearer pk_x"


def test_without_retry_after_the_backoff_is_short_and_bounded() -> None:
    script = [(503, {}, envelope("UNAVAILABLE", "down"))] * 3 + [OK]
    retries = Retries(attempts=4, backoff_s=0.05, max_backoff_s=0.2)
    with scripted_server(script) as server, Persona(server.url, "k", retries=retries) as persona:
        assert persona.health() == {"status": "ok"}
    gaps = [b.at - a.at for a, b in zip(server.arrivals, server.arrivals[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap < 1.0 for gap in gaps)


def test_the_last_attempt_raises_with_the_envelope_and_retry_after() -> None:
    script = [(429, {"Retry-After": "0"}, envelope("RATE_LIMITED", "slow down", "01REQ"))]
    retries = Retries(attempts=3)
    with (
        scripted_server(script) as server,
        Persona(server.url, "k", retries=retries) as persona,
        pytest.raises(RateLimited) as caught,
    ):
        persona.health()
    assert len(server.arrivals) == 3
    error = caught.value
    assert (error.status, error.code, error.message) == (429, "RATE_LIMITED", "slow down")
    assert (error.request_id, error.retry_after_s) == ("01REQ", 0.0)


def test_a_retry_after_beyond_the_policy_raises_at_once() -> None:
    script = [(503, {"Retry-After": "3600"}, envelope("UNAVAILABLE", "maintenance")), OK]
    with (
        scripted_server(script) as server,
        Persona(server.url, "k") as persona,
        pytest.raises(Unavailable) as caught,
    ):
        persona.health()
    assert len(server.arrivals) == 1
    assert caught.value.retry_after_s == 3600


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(404, "USER_NOT_FOUND", NotFound), (409, "USER_DELETING", Conflict), (500, "X", ServerError)],
)
def test_other_failures_are_sent_once(status: int, code: str, kind: type[Exception]) -> None:
    script = [(status, {"Retry-After": "0"}, envelope(code, "no")), OK]
    with (
        scripted_server(script) as server,
        Persona(server.url, "k") as persona,
        pytest.raises(kind),
    ):
        persona.get_user("u")
    assert len(server.arrivals) == 1


def test_an_answer_without_the_envelope_still_raises_by_its_status() -> None:
    with (
        scripted_server([(502, {"X-Request-Id": "01PROXY"}, {"oops": 1})]) as server,
        Persona(server.url, "k") as persona,
        pytest.raises(ServerError) as caught,
    ):
        persona.health()
    assert (caught.value.status, caught.value.code) == (502, "HTTP_502")
    assert caught.value.request_id == "01PROXY"


def test_the_async_client_retries_the_same_way() -> None:
    script = [(429, {"Retry-After": "1"}, envelope("RATE_LIMITED", "later")), OK]

    async def call(url: str) -> dict:
        async with AsyncPersona(url, "k") as persona:
            return await persona.health()

    with scripted_server(script) as server:
        assert asyncio.run(call(server.url)) == {"status": "ok"}
    first, second = server.arrivals
    assert second.at - first.at >= 1.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(answer("7")) == 7.0
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < (retry_after(answer(format_datetime(later, usegmt=True))) or 0) <= 30
    assert retry_after(answer("soon")) is None
    assert retry_after(httpx.Response(429)) is None

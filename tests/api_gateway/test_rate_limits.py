"""Rate limits per organization over real HTTP: headers on every authenticated answer,
429 with Retry-After when the bucket is empty, refills, quotas of a plan, the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pipeline import limits
from pipeline.db.engine import session_scope
from pipeline.errors import InvalidInput, NotFound
from tests.conftest import AUTH_CACHE_S, Services, Tenant
from tests.helpers import wait_for

PERSONA = str(Path(sys.executable).with_name("persona"))


def set_limits(engine, org: str, **values) -> None:
    with session_scope(engine) as session:
        limits.set_org_limits(session, org, **values)


def reset_at(response: httpx.Response) -> datetime:
    value = response.headers["X-RateLimit-Reset"]
    assert value.endswith("Z"), value  # ISO 8601, UTC
    return datetime.fromisoformat(value)


def answer_with(
    client: httpx.Client, path: str, header: str, value: str | None = None
) -> httpx.Response:
    """The first answer to GET `path` that carries `header` (with `value`): a gateway may
    go on with the limits it read for AUTH_CACHE_S."""

    def answer() -> httpx.Response | None:
        response = client.get(path)
        found = response.headers.get(header)
        return response if found is not None and value in (None, found) else None

    return wait_for(answer, timeout=AUTH_CACHE_S + 2, what=f"{header} {value or ''}", poll=0.2)


def test_every_authenticated_answer_carries_the_bucket(tenant: Tenant, gateway: str) -> None:
    ok = tenant.client.put("/register", json={"user_id": "h"})
    missing = tenant.client.get("/v1/end-users/nobody")
    invalid = tenant.client.post("/ingest", json={"user_id": "h"})
    for response in (ok, missing, invalid):
        assert response.headers["X-RateLimit-Limit"] == "1000"  # the default
        assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < 2000
        assert reset_at(response) >= datetime.now(UTC) - timedelta(seconds=2)
    assert missing.status_code == 404
    assert invalid.status_code == 400
    anonymous = httpx.get(f"{gateway}/v1/end-users/nobody")
    assert anonymous.status_code == 401
    assert "X-RateLimit-Limit" not in anonymous.headers
    assert "X-RateLimit-Limit" not in httpx.get(f"{gateway}/healthz").headers


def test_empty_bucket_answers_429_until_it_refills(tenant: Tenant, engine) -> None:
    set_limits(engine, tenant.org, rate_limit_per_s=1.0, rate_limit_burst=3)
    answers = [tenant.client.get("/v1/end-users/nobody") for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert refused.headers["X-RateLimit-Limit"] == "1"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    # Full again after three tokens' worth of refill (second precision, rounded up).
    full = reset_at(refused) - datetime.now(UTC)
    assert timedelta(seconds=1) < full <= timedelta(seconds=5)
    # Once the Retry-After it named has passed, the next request is admitted.
    retry_at = time.time() + retry_after
    wait_for(lambda: time.time() >= retry_at, timeout=retry_after + 1, what="Retry-After")
    assert tenant.client.get("/v1/end-users/nobody").status_code == 404


def test_buckets_are_per_organization_and_atomic(tenant: Tenant, engine, gateway: str) -> None:
    set_limits(engine, tenant.org, rate_limit_per_s=0.1, rate_limit_burst=5)
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(lambda _: tenant.client.get("/v1/end-users/x").status_code, range(20))
        )
    assert sorted(statuses) == [404] * 5 + [429] * 15  # never more than the bucket holds
    # Another organization's bucket is untouched.
    with session_scope(engine) as session:
        from pipeline import keys

        other = keys.create_key(session, f"{tenant.org}-other", ["read"], "t")
    response = httpx.get(f"{gateway}/v1/end-users/x", headers={"X-API-Key": other})
    assert response.status_code == 404
    assert response.headers["X-RateLimit-Limit"] == "1000"


def test_plan_quota_headers(tenant: Tenant, engine) -> None:
    for user_id in ("q1", "q2"):
        tenant.client.put("/register", json={"user_id": user_id})
    assert "X-Quota-Turns-Used" not in tenant.client.get("/v1/end-users/q1").headers
    set_limits(engine, tenant.org, plan="pro", quota_turns=1000, quota_users=10)
    first = answer_with(tenant.client, "/v1/end-users/q1", "X-Quota-Turns-Limit")
    second = tenant.client.get("/v1/end-users/q2")
    assert first.headers["X-Quota-Turns-Limit"] == "1000"
    assert int(second.headers["X-Quota-Turns-Used"]) == int(first.headers["X-Quota-Turns-Used"]) + 1
    assert first.headers["X-Quota-Relationships-Active"] == "2"
    assert first.headers["X-Quota-Relationships-Limit"] == "10"
    now = datetime.now(UTC)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    assert first.headers["X-Quota-Reset"] == next_month.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cli_sets_and_resets_an_organizations_limits(services: Services, tenant: Tenant) -> None:
    def persona(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PERSONA, "orgs", "limits", tenant.org, *args],
            env=services.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    changed = persona("--per-s", "7", "--burst", "9")
    assert changed.returncode == 0, changed.stderr
    assert "rate_limit_per_s=7.0" in changed.stdout
    response = answer_with(tenant.client, "/v1/end-users/x", "X-RateLimit-Limit", "7")
    assert int(response.headers["X-RateLimit-Remaining"]) <= 8
    assert persona("--reset").returncode == 0
    answer_with(tenant.client, "/v1/end-users/x", "X-RateLimit-Limit", "1000")


def test_limits_must_be_positive_and_the_org_must_exist(tenant: Tenant, engine) -> None:
    with pytest.raises(InvalidInput, match="rate_limit_burst must be positive"):
        set_limits(engine, tenant.org, rate_limit_burst=0)
    with pytest.raises(NotFound):
        set_limits(engine, "no-such-org", rate_limit_per_s=5.0)

"""`GET /summary` parameters at the gateway: clear 400s, 404 for an unknown user, auth."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "user_id"),
        ({"user_id": ""}, "user_id"),
        ({"user_id": "u", "max_chars": 49}, "max_chars"),
        ({"user_id": "u", "max_chars": 5001}, "max_chars"),
        ({"user_id": "u", "max_chars": "lots"}, "max_chars"),
        ({"user_id": "u", "freshness_days": -1}, "freshness_days"),
        ({"user_id": "u", "freshness_days": "week"}, "freshness_days"),
        ({"user_id": "u", "purpose": "   "}, "purpose"),
        ({"user_id": "u", "purpose": "x" * 201}, "purpose"),
    ],
)
def test_bad_parameters_are_invalid_requests(tenant: Tenant, params: dict, field: str) -> None:
    tenant.client.put("/register", json={"user_id": "u"})
    answer = tenant.client.get("/summary", params=params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert field in error["message"]
    assert error["request_id"] == answer.headers["x-request-id"]


def test_unknown_user_is_not_found(tenant: Tenant) -> None:
    answer = tenant.reader.get("/summary", params={"user_id": "usr_42af7c"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "USER_NOT_FOUND"
    assert answer.json()["error"]["message"] == "No user found with ID usr_42af7c"


def test_a_key_is_needed(gateway: str) -> None:
    answer = httpx.get(f"{gateway}/summary", params={"user_id": "u"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHORIZED"

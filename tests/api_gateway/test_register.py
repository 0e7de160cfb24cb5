"""`PUT /register` over real HTTP, as seed 000 describes it."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from ulid import ULID

from tests.conftest import Tenant, set_user_status

SEED_BODY = {
    "user_id": "usr_42af7c",
    "traits": {
        "name": "Ash Lewis",
        "timezone": "America/Los_Angeles",
        "notes": "Founder/engineer; prefers concise comms",
    },
}


def test_seed_example_answers_the_seed_shape(tenant: Tenant) -> None:
    response = tenant.client.put("/register", json=SEED_BODY)
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == "usr_42af7c"
    assert body["status"] == "active"
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert datetime.fromisoformat(body["updated_at"]) >= created
    ULID.from_str(response.headers["x-request-id"])


def test_traits_deep_merge_and_omitted_keys_stay(tenant: Tenant) -> None:
    first = {
        "user_id": "u1",
        "traits": {"prefs": {"tone": "terse", "hours": {"start": 9}}, "urls": ["a", "b"], "x": 1},
        "purpose": "calendar assistant",
    }
    created = tenant.client.put("/register", json=first).json()
    second = {"user_id": "u1", "traits": {"prefs": {"hours": {"end": 17}}, "urls": ["c"]}}
    again = tenant.client.put("/register", json=second)
    assert again.status_code == 200
    assert again.json()["created_at"] == created["created_at"]
    assert again.json()["updated_at"] >= created["updated_at"]

    stored = tenant.client.get("/v1/end-users/u1").json()
    assert stored["metadata"] == {
        "prefs": {"tone": "terse", "hours": {"start": 9, "end": 17}},
        "urls": ["c"],
        "x": 1,
    }
    assert stored["purpose"] == "calendar assistant"


def test_resending_the_same_request_changes_nothing(tenant: Tenant) -> None:
    tenant.client.put("/register", json=SEED_BODY)
    before = tenant.client.get("/v1/end-users/usr_42af7c").json()
    tenant.client.put("/register", json=SEED_BODY)
    after = tenant.client.get("/v1/end-users/usr_42af7c").json()
    assert after["metadata"] == before["metadata"]
    assert after["created_at"] == before["created_at"]


def test_purpose_is_replaced_when_given(tenant: Tenant) -> None:
    tenant.client.put("/register", json={"user_id": "u2", "purpose": "first"})
    tenant.client.put("/register", json={"user_id": "u2", "purpose": "second"})
    assert tenant.client.get("/v1/end-users/u2").json()["purpose"] == "second"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"traits": {"name": "x"}}, "Missing required field: user_id"),
        ({"user_id": "u", "traits": ["not", "an", "object"]}, "Invalid field traits"),
        ({"user_id": ""}, "Invalid field user_id"),
        ({"user_id": 42}, "Invalid field user_id"),
        ({"user_id": "u", "nickname": "x"}, "Unknown field: nickname"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(tenant: Tenant, body: dict, message: str) -> None:
    response = tenant.client.put("/register", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"].startswith(message)
    assert error["request_id"] == response.headers["x-request-id"]


def test_malformed_json_is_400(tenant: Tenant) -> None:
    response = tenant.client.put(
        "/register", content=b'{"user_id": "u",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert "Malformed JSON" in response.json()["error"]["message"]


def test_bad_input_changes_nothing(tenant: Tenant) -> None:
    tenant.client.put("/register", json={"user_id": "u3", "traits": {"a": 1}})
    tenant.client.put("/register", json={"user_id": "u3", "traits": {"a": 2}, "bogus": True})
    assert tenant.client.get("/v1/end-users/u3").json()["metadata"] == {"a": 1}


def test_nul_characters_are_refused_not_a_server_error(tenant: Tenant) -> None:
    response = tenant.client.put("/register", json={"user_id": "u4", "traits": {"n": "a\u0000b"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "header",
    ["Authorization: x-api-key: {key}", "Authorization: Bearer {key}", "X-API-Key: {key}"],
)
def test_three_header_forms_authenticate(tenant: Tenant, header: str) -> None:
    name, value = header.format(key=tenant.key).split(": ", 1)
    response = httpx.put(
        str(tenant.client.base_url.join("/register")), json={"user_id": "u5"}, headers={name: value}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "x-api-key: pk_nope"}, {"X-API-Key": ""}]
)
def test_missing_or_unknown_key_is_401(tenant: Tenant, headers: dict[str, str]) -> None:
    response = httpx.put(
        str(tenant.client.base_url.join("/register")), json=SEED_BODY, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


def test_read_only_key_cannot_register(tenant: Tenant) -> None:
    response = tenant.reader.put("/register", json=SEED_BODY)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_deleting_user_answers_409(tenant: Tenant, engine) -> None:
    tenant.client.put("/register", json={"user_id": "u6"})
    set_user_status(engine, tenant.org, "u6", "deleting")
    response = tenant.client.put("/register", json={"user_id": "u6", "traits": {"a": 1}})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "USER_DELETING"


def test_users_are_scoped_by_organization(tenant: Tenant, gateway: str, engine) -> None:
    from pipeline import keys
    from pipeline.db.engine import session_scope

    tenant.client.put("/register", json={"user_id": "shared", "traits": {"org": "first"}})
    with session_scope(engine) as session:
        other_key = keys.create_key(session, tenant.org + "-other", ["read_write"])
    other = httpx.Client(base_url=gateway, headers={"X-API-Key": other_key})
    assert other.get("/v1/end-users/shared").status_code == 404
    other.put("/register", json={"user_id": "shared", "traits": {"org": "second"}})
    assert tenant.client.get("/v1/end-users/shared").json()["metadata"] == {"org": "first"}
    assert other.get("/v1/end-users/shared").json()["metadata"] == {"org": "second"}

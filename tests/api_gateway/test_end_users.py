"""Seed 003's `/v1/end-users`, sharing its users with `/register`."""

from __future__ import annotations

from tests.conftest import Tenant, set_user_status


def test_post_creates_then_returns_existing_unchanged(tenant: Tenant) -> None:
    created = tenant.client.post("/v1/end-users", json={"user_id": "e1", "metadata": {"a": 1}})
    assert created.status_code == 201
    assert created.json()["metadata"] == {"a": 1}
    again = tenant.client.post("/v1/end-users", json={"user_id": "e1", "metadata": {"a": 2}})
    assert again.status_code == 200
    assert again.json() == created.json()


def test_register_and_end_users_share_one_row(tenant: Tenant) -> None:
    tenant.client.put("/register", json={"user_id": "e2", "traits": {"name": "Ash"}})
    response = tenant.client.post("/v1/end-users", json={"user_id": "e2"})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"name": "Ash"}


def test_get_unknown_user_is_404(tenant: Tenant) -> None:
    response = tenant.client.get("/v1/end-users/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "USER_NOT_FOUND"
    assert "nobody" in response.json()["error"]["message"]


def test_patch_merges_like_register(tenant: Tenant) -> None:
    tenant.client.post("/v1/end-users", json={"user_id": "e3", "metadata": {"p": {"x": 1}}})
    patched = tenant.client.patch("/v1/end-users/e3", json={"metadata": {"p": {"y": 2}}})
    assert patched.status_code == 200
    assert patched.json()["metadata"] == {"p": {"x": 1, "y": 2}}
    assert tenant.client.patch("/v1/end-users/none", json={"metadata": {}}).status_code == 404


def test_schema_errors_are_422_and_bad_json_400(tenant: Tenant) -> None:
    wrong = tenant.client.post("/v1/end-users", json={"user_id": 7})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"].startswith("Invalid field user_id")
    missing = tenant.client.post("/v1/end-users", json={"metadata": {}})
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "Missing required field: user_id"
    broken = tenant.client.post(
        "/v1/end-users", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "INVALID_REQUEST"


def test_writes_need_read_write_reads_need_read(tenant: Tenant) -> None:
    tenant.client.post("/v1/end-users", json={"user_id": "e4"})
    assert tenant.reader.post("/v1/end-users", json={"user_id": "e5"}).status_code == 403
    assert tenant.reader.patch("/v1/end-users/e4", json={"metadata": {}}).status_code == 403
    assert tenant.reader.get("/v1/end-users/e4").status_code == 200


def test_deleting_user_refuses_post_and_patch(tenant: Tenant, engine) -> None:
    tenant.client.post("/v1/end-users", json={"user_id": "e6"})
    set_user_status(engine, tenant.org, "e6", "deleting")
    post = tenant.client.post("/v1/end-users", json={"user_id": "e6"})
    assert post.status_code == 409
    assert post.json()["error"]["code"] == "USER_DELETING"
    assert tenant.client.patch("/v1/end-users/e6", json={"metadata": {}}).status_code == 409

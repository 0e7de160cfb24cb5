"""The contract's envelope and codes for everything that can go wrong, and the probes."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from ulid import ULID

from api_gateway.main import create_app
from pipeline.config import Settings
from tests.conftest import Services, Tenant


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    ULID.from_str(error["request_id"])


def test_unknown_route_is_404(tenant: Tenant) -> None:
    assert_envelope(tenant.client.get("/nope"), 404, "NOT_FOUND")


def test_wrong_method_is_405(tenant: Tenant) -> None:
    response = tenant.client.delete("/register")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "PUT" in response.headers["allow"]


def test_declared_body_over_the_limit_is_413(tenant: Tenant) -> None:
    body = b"x" * (10 * 1024 * 1024 + 1)
    response = tenant.client.put(
        "/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_body_over_the_limit_is_413(tenant: Tenant) -> None:
    def chunks():
        for _ in range(11):
            yield b" " * (1024 * 1024)

    response = tenant.client.put(
        "/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_every_response_has_a_request_id(tenant: Tenant) -> None:
    ids = {tenant.client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    for value in ids:
        ULID.from_str(value)


def test_a_callers_ulid_is_kept(tenant: Tenant) -> None:
    mine = str(ULID())
    assert (
        tenant.client.get("/healthz", headers={"X-Request-Id": mine}).headers["x-request-id"]
        == mine
    )


def test_probes(gateway: str) -> None:
    assert httpx.get(f"{gateway}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway}/readyz")
    assert ready.status_code == 200
    assert ready.json()["postgres"] == "ok"


def test_openapi_carries_the_seed_examples(gateway: str) -> None:
    spec = httpx.get(f"{gateway}/openapi.json").json()
    assert "/register" in spec["paths"]
    schemas = spec["components"]["schemas"]
    example = schemas["RegisterRequest"]["examples"][0]
    assert example["user_id"] == "usr_42af7c"
    assert example["traits"]["name"] == "Ash Lewis"
    assert "ErrorEnvelope" in schemas


@pytest.fixture
def in_process(services: Services) -> Settings:
    return Settings(database={"url": services.database_url}, redis={"url": services.redis_url})


def test_unexpected_exception_is_500_envelope(in_process: Settings) -> None:
    app = create_app(in_process)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert_envelope(response, 500, "SERVER_ERROR")
    assert "kaboom" not in response.text


def test_readyz_is_503_when_redis_is_down(services: Services) -> None:
    from pipeline.local.embedded.process import free_port

    settings = Settings(
        database={"url": services.database_url},
        redis={"url": f"redis://127.0.0.1:{free_port()}/0"},
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert_envelope(response, 503, "UNAVAILABLE")
    assert "Redis" in response.json()["error"]["message"]

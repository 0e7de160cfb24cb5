"""Bad input is a 4xx in the contract's envelope that names what was wrong, and changes
nothing: never a 500 (which tells a client to retry forever), never a half-written row."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from ulid import ULID

from tests.conftest import Tenant
from tests.helpers import FACTS, events


def refused(response: httpx.Response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["x-request-id"]
    for word in words:
        assert word in error["message"], error["message"]
    return error


def raw_json(client: httpx.Client, method: str, path: str, text: str) -> httpx.Response:
    """A body sent as written, for what a JSON encoder would never produce."""
    return client.request(
        method, path, content=text.encode(), headers={"Content-Type": "application/json"}
    )


def test_text_postgresql_cannot_hold_is_refused_by_field(tenant: Tenant) -> None:
    lone = "\\ud800"  # a lone UTF-16 surrogate, as a JSON escape
    cases = [
        ("PUT", "/register", f'{{"user_id": "s1", "purpose": "a{lone}b"}}', "purpose"),
        ("PUT", "/register", f'{{"user_id": "s1", "traits": {{"k{lone}": 1}}}}', "traits"),
        ("PUT", "/register", f'{{"user_id": "s1", "traits": {{"k": "v{lone}"}}}}', "traits"),
        (
            "POST",
            "/ingest",
            '{"user_id": "s1", "documents": [{"document_id": "d", "content": "c", '
            f'"title": "t{lone}"}}]}}',
            "title",
        ),
        (
            "POST",
            "/ingest",
            '{"user_id": "s1", "events": [{"event_id": "e", "content": "c", '
            f'"timestamp": "2025-10-10T09:00:00Z", "metadata": {{"m": "{lone}"}}}}]}}',
            "metadata",
        ),
        (
            "POST",
            "/v1/end-users",
            f'{{"user_id": "s1", "metadata": {{"x": "{lone}"}}}}',
            "metadata",
        ),
    ]
    for method, path, text, field in cases:
        status = 422 if path.startswith("/v1/") else 400
        code = "VALIDATION_ERROR" if status == 422 else "INVALID_REQUEST"
        refused(raw_json(tenant.client, method, path, text), status, code, field, "surrogate")
    assert tenant.client.get("/v1/end-users/s1").status_code == 404, "nothing was written"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_no_store_holds_are_refused(tenant: Tenant, number: str) -> None:
    text = f'{{"user_id": "n1", "traits": {{"score": {number}}}}}'
    refused(raw_json(tenant.client, "PUT", "/register", text), 400, "INVALID_REQUEST", "Malformed")
    assert tenant.client.get("/v1/end-users/n1").status_code == 404


def test_duplicate_keys_are_refused_not_resolved(tenant: Tenant) -> None:
    text = '{"user_id": "d1", "user_id": "d2"}'
    refused(raw_json(tenant.client, "PUT", "/register", text), 400, "INVALID_REQUEST", "twice")


def test_a_body_that_is_not_json_is_415(tenant: Tenant) -> None:
    response = tenant.client.put(
        "/register", content=b'{"user_id": "p1"}', headers={"Content-Type": "text/plain"}
    )
    refused(response, 415, "UNSUPPORTED_MEDIA_TYPE", "application/json")


def test_timestamps_are_iso_strings_within_years_1_to_9999_in_utc(tenant: Tenant) -> None:
    def ingest(timestamp: object) -> httpx.Response:
        event = {"event_id": "t", "content": "x", "timestamp": timestamp}
        return tenant.client.post("/ingest", json={"user_id": "t1", "events": [event]})

    refused(ingest("9999-12-31T23:59:59-01:00"), 400, "INVALID_REQUEST", "9999")
    refused(ingest("0001-01-01T00:30:00+01:00"), 400, "INVALID_REQUEST", "9999")
    refused(ingest(-62135596801), 400, "INVALID_REQUEST", "ISO 8601")
    refused(ingest(1760000000), 400, "INVALID_REQUEST", "ISO 8601")
    assert tenant.client.get("/v1/end-users/t1").status_code == 404
    assert ingest("9999-12-31T22:59:59-01:00").status_code == 202


def test_integers_are_integers(tenant: Tenant) -> None:
    for field, value in (("freshness_days", False), ("top_k", True), ("top_k", "5")):
        body = {"user_id": "u", "query": "q", field: value}
        refused(tenant.client.post("/chunks", json=body), 400, "INVALID_REQUEST", field)


def test_path_values_the_stores_cannot_hold_are_400(tenant: Tenant) -> None:
    refused(tenant.client.get("/jobs/%00"), 400, "INVALID_REQUEST", "job_id")
    refused(tenant.client.get(f"/jobs/{'0' * 25}%00"), 400, "INVALID_REQUEST", "job_id")
    assert tenant.client.get(f"/jobs/{ULID()}").status_code == 404
    refused(tenant.client.get("/v1/end-users/a%00b"), 422, "VALIDATION_ERROR", "user_id")
    refused(tenant.client.get("/v1/end-users/%20%20"), 422, "VALIDATION_ERROR", "user_id")


@pytest.mark.parametrize("user_id", ["   ", "tab\there", "line\nbreak", "bell\x07"])
def test_user_ids_are_not_blank_and_hold_no_control_characters(
    tenant: Tenant, user_id: str
) -> None:
    refused(
        tenant.client.put("/register", json={"user_id": user_id}), 400, "INVALID_REQUEST", "user_id"
    )


def test_traits_are_bounded_when_sent_and_when_merged(tenant: Tenant) -> None:
    big = {"notes": "x" * (65 * 1024)}
    refused(
        tenant.client.put("/register", json={"user_id": "b1", "traits": big}),
        400,
        "INVALID_REQUEST",
        "traits",
    )
    half = {"a": "x" * (40 * 1024)}
    assert tenant.client.put("/register", json={"user_id": "b1", "traits": half}).status_code == 200
    grown = tenant.client.put(
        "/register", json={"user_id": "b1", "traits": {"b": "y" * (40 * 1024)}}
    )
    refused(grown, 400, "INVALID_REQUEST", "after the merge")
    assert set(tenant.client.get("/v1/end-users/b1").json()["metadata"]) == {"a"}


def test_an_empty_ingest_is_refused_and_the_document_says_so(tenant: Tenant) -> None:
    refused(
        tenant.client.post("/ingest", json={"user_id": "e1", "events": []}),
        400,
        "INVALID_REQUEST",
        "Nothing to ingest",
    )
    schema = tenant.client.get("/openapi.json").json()["components"]["schemas"]["IngestRequest"]
    assert {tuple(option["required"]) for option in schema["anyOf"]} == {
        ("events",),
        ("documents",),
    }


def test_the_key_is_checked_before_the_body_is_judged(gateway: str) -> None:
    for headers in ({}, {"X-API-Key": "pk_not_a_key_of_anyone_here_0123456789"}):
        response = httpx.put(
            f"{gateway}/register",
            content=b'{"user_id": ',
            headers={"Content-Type": "application/json", **headers},
        )
        refused(response, 401, "UNAUTHORIZED")
        text_plain = httpx.put(
            f"{gateway}/register", content=b"x", headers={"Content-Type": "text/plain", **headers}
        )
        refused(text_plain, 401, "UNAUTHORIZED")


def test_allow_names_every_method_of_the_path(tenant: Tenant) -> None:
    response = tenant.client.request("OPTIONS", "/v1/end-users/someone")
    refused(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "DELETE, GET, PATCH"


def test_a_trailing_slash_is_a_404_in_the_envelope(tenant: Tenant) -> None:
    refused(tenant.client.get("/v1/end-users/"), 404, "NOT_FOUND")


def test_a_request_the_server_cannot_parse_is_answered_in_the_envelope(gateway: str) -> None:
    where = urlsplit(gateway)
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}")
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"x-request-id: " in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "INVALID_REQUEST"
    ULID.from_str(error["request_id"])


def test_docs_are_served_from_the_package(gateway: str) -> None:
    page = httpx.get(f"{gateway}/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert asset in page.text
        assert httpx.get(f"{gateway}/static-offline-docs/{asset}").status_code == 200


def test_requests_without_a_valid_key_are_limited_per_address(make_system) -> None:
    system = make_system(
        PERSONA_RATELIMIT_ANONYMOUS_PER_S="1", PERSONA_RATELIMIT_ANONYMOUS_BURST="5"
    )
    system.start_gateway()
    statuses = [
        httpx.get(f"{system.url}/v1/end-users/x", headers={"X-API-Key": "pk_wrong"}).status_code
        for _ in range(8)
    ]
    assert statuses[:5] == [401] * 5
    assert 429 in statuses[5:]
    limited = httpx.get(f"{system.url}/v1/end-users/x")
    refused(limited, 429, "RATE_LIMITED", "without a valid API key")
    assert int(limited.headers["retry-after"]) >= 1


def test_ingest_of_valid_items_still_works(tenant: Tenant) -> None:
    body = {"user_id": "ok", "events": events(FACTS[:2])}
    assert tenant.client.post("/ingest", json=body).status_code == 202

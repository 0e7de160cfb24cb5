"""The SDK against the real gateway: a client on the test's own organization, with every
request and response it exchanged recorded (httpx event hooks), so a test can count
what was sent as well as check what came back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from persona_client import Persona

from tests.conftest import Tenant


@dataclass
class Exchanges:
    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    def hooks(self) -> dict[str, list]:
        return {"request": [self.requests.append], "response": [self.responses.append]}

    def to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def clear(self) -> None:
        self.requests.clear()
        self.responses.clear()


@pytest.fixture
def exchanges() -> Exchanges:
    return Exchanges()


@pytest.fixture
def persona(gateway: str, tenant: Tenant, exchanges: Exchanges) -> Iterator[Persona]:
    """`Persona` with a read_write and admin key of the test's own organization."""
    with (
        httpx.Client(timeout=60, event_hooks=exchanges.hooks()) as http,
        Persona(gateway, tenant.key, http_client=http) as client,
    ):
        yield client


@pytest.fixture
def user_id() -> str:
    return f"sdk-{uuid.uuid4().hex[:10]}"

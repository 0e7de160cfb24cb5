"""`persona keys`: a created key works over HTTP with its scopes; a revoked one does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import AUTH_CACHE_S, Services
from tests.helpers import wait_for

PERSONA = str(Path(sys.executable).with_name("persona"))


def persona(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PERSONA, *args], env=services.env(), capture_output=True, text=True, timeout=60
    )


def test_create_use_and_revoke_a_key(services: Services, gateway: str) -> None:
    created = persona(services, "keys", "create", "--org", "cli-org", "--scopes", "read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("pk_")
    client = httpx.Client(base_url=gateway, headers={"Authorization": f"x-api-key: {key}"})
    assert client.get("/v1/end-users/nobody").status_code == 404  # authenticated, not found
    assert client.put("/register", json={"user_id": "u"}).status_code == 403  # read only

    revoked = persona(services, "keys", "revoke", key[:12])
    assert revoked.returncode == 0, revoked.stderr

    # A gateway trusts what it read of a key for PERSONA_GATEWAY_AUTH_CACHE_S at most.
    def refused() -> bool:
        status = client.get("/v1/end-users/nobody").status_code
        assert status in {401, 404}, status
        return status == 401

    wait_for(refused, timeout=AUTH_CACHE_S + 2, what="the revoked key to be refused")


def test_bad_scope_is_a_clear_error(services: Services) -> None:
    result = persona(services, "keys", "create", "--org", "cli-org", "--scopes", "root")
    assert result.returncode == 2
    assert "read, read_write, admin" in result.stderr

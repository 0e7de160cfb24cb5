"""`persona run` (what `make run` starts): ready, serves seed 000, stops clean, keeps data."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest

from pipeline.local.embedded.process import free_port
from tests.helpers import start_persona_run, stop_persona_run


def descendants_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if cmdline:
            alive.append(pid)
    return alive


def server_pids(log: str) -> list[int]:
    return [int(p) for p in re.findall(r"\(pid (\d+)", log)]


def test_run_serves_seed_000_stops_clean_and_keeps_data(tmp_path: Path) -> None:
    data, log, port = tmp_path / "var", tmp_path / "run.log", free_port()
    url = f"http://127.0.0.1:{port}"
    proc, key = start_persona_run(data, port, log)
    first_log = log.read_text()
    # The embedded servers, not the system ones (5432, 6379), and their ports are shown.
    ports = re.findall(r"listening on 127\.0\.0\.1:(\d+)", first_log)
    assert len(ports) == 2
    assert not {"5432", "6379"} & set(ports)

    seed = {
        "user_id": "usr_42af7c",
        "traits": {
            "name": "Ash Lewis",
            "timezone": "America/Los_Angeles",
            "notes": "Founder/engineer; prefers concise comms",
        },
    }
    response = httpx.put(
        f"{url}/register", json=seed, headers={"Authorization": f"x-api-key: {key}"}
    )
    assert response.status_code == 200
    assert set(response.json()) >= {"user_id", "created_at", "status"}
    created_at = response.json()["created_at"]

    pids = server_pids(first_log)
    assert stop_persona_run(proc) < 60
    assert descendants_alive(pids) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")

    with open(log, "a") as out:
        out.write("---- start 2\n")
    proc, shown_again = start_persona_run(data, port, log)
    try:
        # The key is kept, 0600, and printed only on the start that made it.
        kept = data / "bootstrap_key"
        assert kept.read_text().strip() == key
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert shown_again == f"$(cat {kept.resolve()})"
        assert key not in log.read_text().split("---- start 2")[1], "never printed twice"
        assert stat.S_IMODE(data.stat().st_mode) in {0o700, 0o710}, "the data folder is private"
        again = httpx.get(
            f"{url}/v1/end-users/usr_42af7c", headers={"Authorization": f"Bearer {key}"}
        )
        assert again.status_code == 200
        assert again.json()["created_at"] == created_at
        assert again.json()["metadata"]["name"] == "Ash Lewis"
    finally:
        stop_persona_run(proc)
    assert descendants_alive(server_pids(log.read_text())) == []

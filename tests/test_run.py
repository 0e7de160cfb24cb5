"""`persona run` (what `make run` starts): ready, serves seed 000, stops clean, keeps data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.local.embedded.process import free_port
from tests.helpers import wait_for

PERSONA = str(Path(sys.executable).with_name("persona"))
ROOT = Path(__file__).resolve().parent.parent


def start(data_dir: Path, port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PERSONA_") or k == "PERSONA_EMBEDDING_MODEL_DIR"
    }
    env.update(PERSONA_DATA_DIR=str(data_dir), PERSONA_PORT=str(port))
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [PERSONA, "run"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )

    def key() -> str | None:
        text = log.read_text(errors="replace")
        if proc.poll() is not None:
            pytest.fail(f"persona run exited {proc.returncode}:\n{text[-4000:]}")
        match = re.search(r"API key\s+(\S+)", text.split("---- start")[-1])
        return match.group(1) if match else None

    try:
        return proc, wait_for(key, timeout=120, what="persona run to print its key", poll=0.2)
    except AssertionError:
        proc.kill()
        pytest.fail(f"persona run not ready:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> float:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(90) == 0
    return time.monotonic() - t0


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
    proc, key = start(data, port, log)
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
    assert stop(proc) < 60
    assert descendants_alive(pids) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")

    with open(log, "a") as out:
        out.write("---- start 2\n")
    proc, key_again = start(data, port, log)
    try:
        assert key_again == key, "the generated key is kept and shown again"
        again = httpx.get(
            f"{url}/v1/end-users/usr_42af7c", headers={"Authorization": f"Bearer {key}"}
        )
        assert again.status_code == 200
        assert again.json()["created_at"] == created_at
        assert again.json()["metadata"]["name"] == "Ash Lewis"
    finally:
        stop(proc)
    assert descendants_alive(server_pids(log.read_text())) == []

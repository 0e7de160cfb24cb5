"""The embedded default's real PostgreSQL and Redis servers, started as our children.

Every test starts real servers in its own tmp_path. pytest's temporary
folders are 0700, so when the suite runs as root these tests also cover
giving the service account a way into them.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from pipeline.local.embedded import (
    SERVICE_ACCOUNT,
    DataDirInUseError,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedStack,
    ServerStartError,
)
from tests.helpers import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def stack(data_dir: Path) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(data_dir) as running:
        yield running


def _write_sample(stack: EmbeddedStack) -> None:
    with psycopg.connect(stack.postgres.conninfo()) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sample (note text)")
        conn.execute("INSERT INTO sample VALUES ('kept')")
    redis.Redis.from_url(stack.redis_url).set("sample", "kept")


def _read_sample(stack: EmbeddedStack) -> tuple[list[str], bytes | None]:
    with psycopg.connect(stack.postgres.conninfo()) as conn:
        rows = [note for (note,) in conn.execute("SELECT note FROM sample")]
    return rows, redis.Redis.from_url(stack.redis_url).get("sample")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text.rsplit(")", 1)[1].split()


def _running(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"  # an unreaped zombie has exited


def _children(pid: int) -> list[int]:
    pids = (int(name) for name in os.listdir("/proc") if name.isdigit())
    return [child for child in pids if (fields := _stat(child)) and int(fields[1]) == pid]


def _server_pids(stack: EmbeddedStack) -> list[int]:
    postmaster, redis_pid = stack.postgres.pid, stack.redis.pid
    assert postmaster is not None
    assert redis_pid is not None
    return [postmaster, *_children(postmaster), redis_pid]


def _wait_gone(pids: list[int], timeout: float = 20.0) -> None:
    wait_for(
        lambda: not [pid for pid in pids if _running(pid)], timeout, f"{pids} to exit", poll=0.05
    )


def test_urls_point_at_the_running_servers(stack: EmbeddedStack) -> None:
    app = make_url(stack.database_url)
    assert (app.host, app.port, app.database) == ("127.0.0.1", stack.postgres.port, "persona")
    assert app.username == "persona_app"
    assert stack.redis_url.startswith("redis://:")
    assert stack.redis_url.endswith(f"@127.0.0.1:{stack.redis.port}/0")
    with psycopg.connect(stack.postgres.conninfo()) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("persona",)
        assert conn.info.server_version >= 180000  # the wheel's server, not the system's
    persistence = redis.Redis.from_url(stack.redis_url).info("persistence")
    assert persistence["aof_enabled"] == 1


def test_every_connection_needs_the_secret_and_the_application_is_no_superuser(
    stack: EmbeddedStack,
) -> None:
    port = stack.postgres.port
    for user in ("persona", "persona_app"):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"host=127.0.0.1 port={port} user={user} dbname=persona").close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(
                f"host=127.0.0.1 port={port} user={user} password=guess dbname=persona"
            ).close()
    app = make_url(stack.database_url)
    conninfo = (
        f"host=127.0.0.1 port={port} user={app.username} password={app.password} dbname=persona"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
        conn.execute("CREATE TABLE owned_by_the_application (id int)")  # it owns its database
    for path in stack.postgres.data_dir.glob("persona-*.secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    anonymous = redis.Redis(host="127.0.0.1", port=stack.redis.port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    client = redis.Redis.from_url(stack.redis_url)
    assert client.ping()
    for command in ("CONFIG", "DEBUG", "MODULE"):
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command(command, "HELP")
    secret = stack.redis.data_dir / "persona.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text().strip() not in Path(f"/proc/{stack.redis.pid}/cmdline").read_text()


def test_data_survives_a_restart(stack: EmbeddedStack) -> None:
    _write_sample(stack)
    stack.stop()
    stack.start()
    assert _read_sample(stack) == (["kept"], b"kept")


def test_stop_leaves_no_process(stack: EmbeddedStack) -> None:
    pids = _server_pids(stack)
    assert len(pids) > 3  # the postmaster has its helpers
    stack.stop()
    assert [pid for pid in pids if _running(pid)] == []


def test_second_stack_on_the_same_folder_fails(stack: EmbeddedStack, data_dir: Path) -> None:
    with pytest.raises(DataDirInUseError, match=f"pid {os.getpid()}"):
        EmbeddedStack(data_dir).start()
    # Each server also refuses on its own, naming the live server's pid.
    with pytest.raises(DataDirInUseError, match=f"pid {stack.postgres.pid}"):
        EmbeddedPostgres(data_dir / "postgres").start()
    with pytest.raises(DataDirInUseError, match=f"pid {stack.redis.pid}"):
        EmbeddedRedis(data_dir / "redis").start()
    _write_sample(stack)  # the first stack is untouched
    assert _read_sample(stack) == (["kept"], b"kept")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to the service account")
def test_servers_run_as_the_service_account(stack: EmbeddedStack) -> None:
    uid = pwd.getpwnam(SERVICE_ACCOUNT).pw_uid
    for pid in _server_pids(stack):
        uids = next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
        assert uids.split()[1:] == [str(uid)] * 4, pid


def test_restart_after_the_servers_were_killed(stack: EmbeddedStack) -> None:
    _write_sample(stack)
    pids = _server_pids(stack)
    for pid in (stack.postgres.pid, stack.redis.pid):
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    stack.stop()  # reaps them; postmaster.pid stays behind
    assert (stack.postgres.data_dir / "postmaster.pid").exists()
    stack.start()
    assert _read_sample(stack) == (["kept"], b"kept")
    _wait_gone(pids)


SUPERVISOR = """
import json, signal, sys
from pipeline.local.embedded import EmbeddedStack
stack = EmbeddedStack(sys.argv[1]).start()
print(json.dumps({"postgres": stack.postgres.pid, "redis": stack.redis.pid}), flush=True)
signal.pause()  # until killed
"""


def test_servers_shut_down_cleanly_when_their_supervisor_is_killed(data_dir: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        assert supervisor.stdout is not None
        started = json.loads(supervisor.stdout.readline())
    finally:
        supervisor.kill()
        supervisor.wait()
    _wait_gone([started["postgres"], started["redis"]])
    postgres_log = (data_dir / "postgres" / "postgres.log").read_text()
    assert "received fast shutdown request" in postgres_log  # SIGINT, not a crash
    with EmbeddedStack(data_dir) as again:  # the folder is free again
        assert again.postgres.pid != started["postgres"]


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError, match="Address already in use"):
            EmbeddedRedis(tmp_path / "redis", port=port).start()

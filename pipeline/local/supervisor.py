"""`persona run`: the whole system on one machine, started and stopped in order.

Starts what is not given by URL (embedded PostgreSQL and Redis from their
wheels), applies migrations, makes sure an API key exists, then runs the
gateway and one worker as child processes. On Ctrl-C or SIGTERM it stops them
in the reverse order: the gateway stops taking requests, the worker finishes or
hands back its tasks (acks_late), and only then Redis and PostgreSQL shut down,
so nothing accepted is lost and nothing is left running.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipeline import keys
from pipeline.config import Settings
from pipeline.db.migrate import upgrade
from pipeline.local.embedded import EmbeddedPostgres, EmbeddedRedis, process
from pipeline.messages import Queue

log = logging.getLogger("persona.run")

KEY_FILE = "bootstrap_key"
RUN_FILE = "run.json"


def stored_key(data_dir: Path) -> str:
    """The key `make run` prints, made on the first start and kept 0600 in DATA_DIR."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = keys.new_key()
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def running_urls(data_dir: Path) -> dict[str, str]:
    """URLs of the servers a running `persona run` started, for other CLI commands."""
    path = data_dir / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def gateway_command(settings: Settings) -> list[str]:
    """The gateway process: uvicorn serving the app factory."""
    return [
        *(sys.executable, "-m", "uvicorn", "--factory", "api_gateway.main:create_app"),
        *("--host", settings.host, "--port", str(settings.port)),
        *("--workers", str(settings.gateway.workers), "--no-access-log"),
    ]


def worker_command(settings: Settings, queues: list[str] | None = None) -> list[str]:
    """One worker process on every queue, its tasks on threads: the embedded vector
    index belongs to a single process, so concurrency comes from threads, not forks."""
    names = queues or [q.value for q in Queue]
    return [
        *(sys.executable, "-m", "celery", "-A", "workers.app", "worker"),
        *("-Q", ",".join(names), "--pool", "threads"),
        *("-c", str(settings.celery.worker_concurrency)),
        *("-n", f"persona-{os.getpid()}@%h", "--without-mingle", "--without-gossip"),
        *("--loglevel", settings.log_level),
    ]


def beat_command(settings: Settings) -> list[str]:
    """The scheduler of periodic tasks (the outbox sweeper); one per deployment."""
    schedule = settings.data_dir.resolve() / "celerybeat-schedule"
    return [
        *(sys.executable, "-m", "celery", "-A", "workers.app", "beat"),
        *("-s", str(schedule), "--loglevel", settings.log_level),
    ]


@dataclass
class Supervisor:
    settings: Settings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[tuple[str, subprocess.Popen[bytes], signal.Signals, float]] = field(
        default_factory=list
    )
    servers: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    def start_servers(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.database.url:
            log.info("using PostgreSQL at PERSONA_DATABASE_URL (nothing embedded started)")
        else:
            postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.servers.append(postgres)
            postgres.start()
            self.env["PERSONA_DATABASE_URL"] = postgres.url
        if self.settings.redis.url:
            log.info("using Redis at PERSONA_REDIS_URL (nothing embedded started)")
        else:
            redis = EmbeddedRedis(self.data_dir / "redis")
            self.servers.append(redis)
            redis.start()
            self.env["PERSONA_REDIS_URL"] = redis.url

    def spawn(self, name: str, argv: list[str], stop_signal: signal.Signals, grace: float) -> None:
        child = process.spawn(
            argv, log_path=None, death_signal=stop_signal, cwd=Path.cwd(), env=self.env
        )
        self.children.append((name, child, stop_signal, grace))
        log.info("%s started (pid %d)", name, child.pid)

    def start_apps(self) -> str:
        key = self.settings.bootstrap_key or stored_key(self.data_dir)
        self.env["PERSONA_BOOTSTRAP_KEY"] = key
        self.spawn("gateway", gateway_command(self.settings), signal.SIGTERM, 15.0)
        self.spawn("worker", worker_command(self.settings), signal.SIGTERM, 60.0)
        self.spawn("beat", beat_command(self.settings), signal.SIGTERM, 10.0)
        return key

    def wait_ready(self, url: str, deadline_s: float = 60.0) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            self.check_children()
            try:
                if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not become ready at {url} in {deadline_s:.0f}s")

    def check_children(self) -> None:
        for name, child, _, _ in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with status {child.returncode}")

    def stop(self) -> None:
        """Stop the gateway first (no new work), then the worker (finishes or hands back its
        tasks), then the servers (Redis, then PostgreSQL)."""
        for name, child, stop_signal, grace in self.children:
            t0 = time.monotonic()
            process.stop(child, stop_signal, name=name, timeout=grace)
            log.info("%s stopped in %.1fs", name, time.monotonic() - t0)
        self.children.clear()
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        (self.data_dir / RUN_FILE).unlink(missing_ok=True)


def run(settings: Settings) -> int:
    """Run until Ctrl-C or SIGTERM; returns the process exit status."""
    supervisor = Supervisor(settings)
    started = time.monotonic()

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = 0
    try:
        supervisor.start_servers()
        upgrade(supervisor.env["PERSONA_DATABASE_URL"])
        key = supervisor.start_apps()
        url = f"http://{settings.host}:{settings.port}"
        supervisor.wait_ready(url)
        (supervisor.data_dir / RUN_FILE).write_text(
            json.dumps(
                {
                    "database_url": supervisor.env["PERSONA_DATABASE_URL"],
                    "redis_url": supervisor.env["PERSONA_REDIS_URL"],
                    "gateway_url": url,
                }
            )
        )
        print(banner(url, key, time.monotonic() - started), flush=True)
        while not supervisor.stopping.wait(0.5):
            supervisor.check_children()
    except RuntimeError as exc:
        log.error("%s", exc)
        status = 1
    finally:
        t0 = time.monotonic()
        log.info("stopping…")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        supervisor.stop()
        log.info("stopped everything in %.1fs", time.monotonic() - t0)
    return status


def banner(url: str, key: str, seconds: float) -> str:
    return f"""
  Persona is ready in {seconds:.1f}s
    URL      {url}   (OpenAPI: {url}/docs)
    API key  {key}

  Try it:
    curl -X PUT "{url}/register" \\
      -H "Authorization: x-api-key: {key}" \\
      -H "Content-Type: application/json" \\
      -d '{{"user_id": "usr_42af7c", "traits": {{"name": "Ash Lewis"}}}}'

  Ctrl-C stops everything.
"""

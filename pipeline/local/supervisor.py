"""`persona run`: the whole system on one machine, started, kept up, and stopped in order.

Starts what is not given by URL (embedded PostgreSQL and Redis from their
wheels), applies migrations, makes sure an API key exists, then runs the
gateway, one worker and beat as child processes.

While it runs, every child and server is watched: one that dies is started
again (servers on the same port and data, so no URL changes) after a backoff,
and the others keep serving meanwhile: the gateway answers 503 with
Retry-After while a store is down. A crash loop (`Restarts`) is what finally
stops everything, with the reason in the log. The gateway's listening socket
belongs to this process and is handed to each gateway it starts, so requests
that arrive while a gateway restarts wait in the socket's backlog instead of
being refused.

On Ctrl-C or SIGTERM it stops them in the reverse order: the gateway stops
taking requests, the worker finishes or hands back its tasks (acks_late), and
only then Redis and PostgreSQL shut down, so nothing accepted is lost and
nothing is left running. Files it creates are its owner's alone (umask 077).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pipeline import keys
from pipeline.config import UNIX_SOCKET, Settings
from pipeline.db.migrate import upgrade
from pipeline.local.embedded import EmbeddedPostgres, EmbeddedRedis, process
from pipeline.local.embedded.process import service_account, write_private
from pipeline.local.restarts import Restarts
from pipeline.messages import Queue

log = logging.getLogger("persona.run")

KEY_FILE = "bootstrap_key"
RUN_FILE = "run.json"


def stored_key(data_dir: Path) -> tuple[str, bool]:
    """The key `make run` uses, made on the first start and kept 0600 in DATA_DIR;
    and whether it was made just now (then, and only then, it is printed)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip(), False
    key = keys.new_key()
    write_private(path, key + "\n")
    return key, True


def running_urls(data_dir: Path) -> dict[str, Any]:
    """URLs and pids of what a running `persona run` started, for other CLI commands
    (the file is 0600: the URLs carry the stores' passwords)."""
    path = data_dir / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def gateway_command(settings: Settings, fd: int | None = None) -> list[str]:
    """The gateway process (`api_gateway.serve`), on the listening socket `fd` when given
    (kept open by the supervisor across restarts), else on host and port."""
    where = ["--fd", str(fd)] if fd is not None else ["--host", settings.host]
    if fd is None:
        where += ["--port", str(settings.port)]
    return [
        *(sys.executable, "-m", "api_gateway.serve", *where),
        *("--workers", str(settings.gateway.workers)),
    ]


def reads_socket(data_dir: Path) -> str:
    """Where the one worker of `persona run` serves reads directly, and the gateway asks
    (`workers.reads`): a socket in the data folder, which only its owner may open."""
    return f"{UNIX_SOCKET}{data_dir.resolve() / 'run' / 'reads.sock'}"


def private_folder(folder: Path) -> None:
    """`folder` and its parent (`DATA_DIR/run`, which also holds the reads socket) made
    0700: only the user the system runs as may look inside."""
    for path in (folder.parent, folder):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)


def metrics_folder(data_dir: Path) -> Path:
    """Where every process of `persona run` writes its Prometheus metrics, for the
    gateway's `GET /metrics` to add up (PROMETHEUS_MULTIPROC_DIR); emptied at each start,
    since the files of processes gone would count twice."""
    return data_dir.resolve() / "run" / "metrics"


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
class Watched:
    """A child process or an embedded server, and how to start it again."""

    name: str
    start: Callable[[], None]
    running: Callable[[], bool]
    exit_code: Callable[[], int | None]
    pid: Callable[[], int | None]
    restarts: Restarts = field(default_factory=Restarts)
    due: float | None = None  # when a pending restart is to happen (time.monotonic)


@dataclass
class App:
    """A child process of ours: the gateway, the worker, beat."""

    name: str
    argv: list[str]
    stop_signal: signal.Signals
    grace: float
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Supervisor:
    settings: Settings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    apps: list[App] = field(default_factory=list)
    servers: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)
    watched: list[Watched] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    listener: socket.socket | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def make_data_dir(self) -> None:
        """The data folder, its owner's alone; the embedded servers' account (when we run
        as root) may pass through it to reach its own folders, nothing more."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        account = service_account()
        if account is None:
            self.data_dir.chmod(0o700)
        else:
            os.chown(self.data_dir, -1, account.gid)
            self.data_dir.chmod(0o710)

    def start_servers(self) -> None:
        self.make_data_dir()
        if self.settings.database.url:
            log.info("using PostgreSQL at PERSONA_DATABASE_URL (nothing embedded started)")
        else:
            postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self._serve(postgres)
            self.env["PERSONA_DATABASE_URL"] = postgres.url
        if self.settings.redis.url:
            log.info("using Redis at PERSONA_REDIS_URL (nothing embedded started)")
        else:
            redis = EmbeddedRedis(self.data_dir / "redis")
            self._serve(redis)
            self.env["PERSONA_REDIS_URL"] = redis.url

    def _serve(self, server: EmbeddedPostgres | EmbeddedRedis) -> None:
        self.servers.append(server)
        server.start()

        def restart() -> None:
            server.restart()

        self.watched.append(
            Watched(
                server.label,
                restart,
                lambda: server.running,
                lambda: server.exit_code,
                lambda: server.pid,
            )
        )

    def spawn(self, app: App) -> None:
        app.proc = process.spawn(
            app.argv,
            log_path=None,
            death_signal=app.stop_signal,
            cwd=Path.cwd(),
            env=self.env,
            pass_fds=app.pass_fds,
        )
        log.info("%s started (pid %d)", app.name, app.proc.pid)

    def _manage(self, app: App) -> None:
        self.apps.append(app)
        self.spawn(app)
        self.watched.append(
            Watched(
                app.name,
                lambda: self.spawn(app),
                lambda: app.proc is not None and app.proc.poll() is None,
                lambda: app.proc.poll() if app.proc is not None else None,
                lambda: app.proc.pid if app.proc is not None else None,
            )
        )

    def listen(self) -> int:
        """The gateway's listening socket, ours for as long as we run."""
        self.listener = socket.create_server(
            (self.settings.host, self.settings.port), backlog=2048, reuse_port=False
        )
        return self.listener.fileno()

    def start_apps(self) -> tuple[str, str]:
        """Start the gateway, worker and beat; returns the key, and how the banner shows
        it: in full when it was just made (the one time it is printed), else by where
        it is kept."""
        if self.settings.bootstrap_key:
            key, shown = self.settings.bootstrap_key, "$PERSONA_BOOTSTRAP_KEY"
        else:
            key, new = stored_key(self.data_dir)
            shown = key if new else f"$(cat {self.data_dir / KEY_FILE})"
        self.env["PERSONA_BOOTSTRAP_KEY"] = key
        if self.settings.reads.listen is None and self.settings.reads.url is None:
            where = reads_socket(self.data_dir)
            self.env["PERSONA_READS_LISTEN"] = self.env["PERSONA_READS_URL"] = where
        if "PROMETHEUS_MULTIPROC_DIR" not in self.env:
            folder = metrics_folder(self.data_dir)
            shutil.rmtree(folder, ignore_errors=True)
            private_folder(folder)
            self.env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        fd = self.listen()
        self._manage(
            App("gateway", gateway_command(self.settings, fd), signal.SIGTERM, 15.0, (fd,))
        )
        self._manage(App("worker", worker_command(self.settings), signal.SIGTERM, 60.0))
        self._manage(App("beat", beat_command(self.settings), signal.SIGTERM, 10.0))
        return key, shown

    def wait_ready(self, deadline_s: float = 60.0) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for app in self.apps:
                if app.proc is not None and app.proc.poll() is not None:
                    raise RuntimeError(f"{app.name} exited with status {app.proc.returncode}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not become ready at {self.url} in {deadline_s:.0f}s")

    def write_run_file(self) -> None:
        """What other commands (and operators) may want of this run: the stores' URLs,
        the gateway's, and the pid of every child and server now."""
        state = {
            "database_url": self.env["PERSONA_DATABASE_URL"],
            "redis_url": self.env["PERSONA_REDIS_URL"],
            "gateway_url": self.url,
            "pids": {w.name: w.pid() for w in self.watched},
        }
        write_private(self.data_dir / RUN_FILE, json.dumps(state, indent=2) + "\n")

    def watch(self) -> None:
        """One look at every child and server: schedule a restart for each that died, and
        perform the restarts that are due. Raises RuntimeError on a crash loop."""
        now = time.monotonic()
        for item in self.watched:
            if item.due is None and not item.running():
                delay = item.restarts.after_crash(now)
                if delay is None:
                    raise RuntimeError(
                        f"{item.name} keeps crashing ({item.restarts.describe()}, last exit "
                        f"status {item.exit_code()}); stopping everything"
                    )
                log.error(
                    "%s exited (status %s); starting it again in %.1f s",
                    item.name,
                    item.exit_code(),
                    delay,
                )
                item.due = now + delay
            elif item.due is not None and now >= item.due:
                item.due = None
                try:
                    item.start()
                except Exception as exc:
                    log.error("%s did not start again: %s", item.name, exc)
                    continue  # still not running: the next look schedules another try
                log.info("%s is back (pid %s)", item.name, item.pid())
                self.write_run_file()

    def stop(self) -> None:
        """Stop the gateway first (no new work), then the worker (finishes or hands back its
        tasks), then the servers (Redis, then PostgreSQL)."""
        for app in self.apps:
            if app.proc is None:
                continue
            t0 = time.monotonic()
            process.stop(app.proc, app.stop_signal, name=app.name, timeout=app.grace)
            log.info("%s stopped in %.1fs", app.name, time.monotonic() - t0)
        self.apps.clear()
        if self.listener is not None:
            self.listener.close()
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        self.watched.clear()
        (self.data_dir / RUN_FILE).unlink(missing_ok=True)


def run(settings: Settings) -> int:
    """Run until Ctrl-C or SIGTERM; returns the process exit status."""
    os.umask(0o077)
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
        _, shown = supervisor.start_apps()
        supervisor.wait_ready()
        supervisor.write_run_file()
        print(banner(supervisor.url, shown, time.monotonic() - started), flush=True)
        while not supervisor.stopping.wait(0.5):
            supervisor.watch()
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
    """What `persona run` prints once it serves; `key` is the key itself only on the
    start that made it, else where to find it."""
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

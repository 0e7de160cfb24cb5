"""Fixtures on real services: PostgreSQL, Redis, the gateway over HTTP, worker processes.

The servers are the embedded ones, started once per session in a temporary
folder, unless PERSONA_TEST_DATABASE_URL and PERSONA_TEST_REDIS_URL name others.
Each test is isolated by tenant: it gets an organization and keys of its own,
so tests never see each other's users even though they share one database.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session

from pipeline import keys, models
from pipeline.config import Settings
from pipeline.db.engine import get_engine, session_scope
from pipeline.db.migrate import upgrade
from pipeline.local.embedded import EmbeddedPostgres, EmbeddedRedis
from pipeline.local.embedded.process import free_port
from pipeline.local.model_build import build_model
from pipeline.local.supervisor import (
    beat_command,
    gateway_command,
    metrics_folder,
    private_folder,
    reads_socket,
    worker_command,
)
from pipeline.messages import Message, Task
from pipeline.runtime import Runtime
from tests.helpers import wait_for

BOOTSTRAP_KEY = "pk_test_bootstrap_key_for_the_suite"
AUTH_CACHE_S = 1.0  # seconds a gateway under test reuses what it read of an API key
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Services:
    database_url: str  # the application's role
    redis_url: str  # without a database number: each system under test picks its own
    models_dir: Path
    admin_url: str  # a role that may create databases (scratch databases of migration tests)

    def env(self, redis_db: int = 0, **extra: str) -> dict[str, str]:
        """Environment for a child process of the system under test."""
        env = {
            **os.environ,
            "PERSONA_DATABASE_URL": self.database_url,
            "PERSONA_REDIS_URL": f"{self.redis_url}/{redis_db}",
            "PERSONA_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
            "PERSONA_EMBEDDING_MODELS_DIR": str(self.models_dir),
            "PERSONA_LOG_LEVEL": "INFO",
            # Short, so that tests see a revoked key or new limits take effect quickly.
            "PERSONA_GATEWAY_AUTH_CACHE_S": str(AUTH_CACHE_S),
            # Every test calls from 127.0.0.1: the per-address bucket of requests without
            # a valid key would otherwise be shared by the whole suite.
            "PERSONA_RATELIMIT_ANONYMOUS_PER_S": "10000",
            "PERSONA_RATELIMIT_ANONYMOUS_BURST": "100000",
            "HF_HUB_OFFLINE": "1",
        }
        env.update(extra)
        return env


# `make test` runs the suite on several processes (pytest-xdist): each starts embedded
# servers of its own, and on servers given by URL takes a database and Redis databases
# of its own, so no two processes ever share a user, a queue or an active generation.
PROCESS = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
PROCESSES = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
SHARED_REDIS_DB = PROCESS
"""The Redis database of this process's shared deployment; the rest are lent out."""


def _process_database(given: str) -> str:
    """A database of this process's own on the server `given` names, migrated afresh."""
    url = make_url(given)
    name = f"{url.database}_gw{PROCESS}"
    admin = create_engine(given, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{url.username}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    given_db = os.environ.get("PERSONA_TEST_DATABASE_URL")
    given_redis = os.environ.get("PERSONA_TEST_REDIS_URL")
    data = tmp_path_factory.mktemp("services")
    models_dir = Path(os.environ.get("PERSONA_EMBEDDING_MODELS_DIR") or data / "models")
    build_model(models.folder(models_dir, models.MINILM))
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if given_db:
            db_url, admin_url = given_db, given_db
            if PROCESSES > 1:
                db_url = _process_database(given_db)
        else:
            postgres = EmbeddedPostgres(data / "postgres")
            started.append(postgres.start())
            db_url, admin_url = postgres.url, postgres.admin_url
        if given_redis:
            redis_url = given_redis.rstrip("/").rsplit("/", 1)[0]
        else:
            redis = EmbeddedRedis(data / "redis")
            started.append(redis.start())
            redis_url = redis.url.rsplit("/", 1)[0]
        upgrade(db_url)
        yield Services(db_url, redis_url, models_dir, admin_url)
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def engine(services: Services) -> Engine:
    return get_engine(services.database_url)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back when the test ends."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


class ChildProcess:
    """A process of the system under test, its output kept in a log file for failures."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def wait_ready(child: ChildProcess, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait until `ready()`; the child's output is in the failure if it exits or is late."""

    def check() -> bool:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited:\n{child.output()[-4000:]}")
        return ready()

    try:
        wait_for(check, timeout, f"{child.name} to be ready")
    except AssertionError:
        child.stop()
        raise RuntimeError(f"{child.name} not ready:\n{child.output()[-4000:]}") from None


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class System:
    """One Persona deployment under test: a gateway, a worker, their own Redis database
    and data folder (the worker's embedded index), on the shared PostgreSQL."""

    services: Services
    redis_db: int
    data_dir: Path
    env_extra: dict[str, str]
    redis_base: str = ""  # a Redis of its own; empty: the shared one
    url: str = ""
    gateway: ChildProcess | None = None
    worker: ChildProcess | None = None
    beat: ChildProcess | None = None
    _logs: int = 0

    def env(self) -> dict[str, str]:
        reads = reads_socket(self.data_dir)  # as `persona run` does, and its metrics folder
        metrics = metrics_folder(self.data_dir)
        private_folder(metrics)
        mine = {
            "PERSONA_READS_LISTEN": reads,
            "PERSONA_READS_URL": reads,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        } | self.env_extra
        return self.services.env(
            self.redis_db,
            PERSONA_DATA_DIR=str(self.data_dir),
            PERSONA_REDIS_URL=self.redis_url,
            **mine,
        )

    @property
    def redis_url(self) -> str:
        return f"{self.redis_base or self.services.redis_url}/{self.redis_db}"

    def _log(self, name: str) -> Path:
        self._logs += 1
        return self.data_dir / f"{name}-{self._logs}.log"

    def start_gateway(self) -> None:
        settings = Settings(port=free_port())
        self.gateway = ChildProcess(
            "gateway", gateway_command(settings), self.env(), self._log("gateway")
        )
        self.url = f"http://127.0.0.1:{settings.port}"
        gateway = self.gateway
        wait_ready(gateway, lambda: answers(self.url + "/readyz"))

    def start_worker(self, concurrency: int = 3, queues: list[str] | None = None) -> ChildProcess:
        """A real Celery worker process on every queue (or `queues`), as `persona run`
        starts it (more threads than the default two embedding slots, as the settings
        require)."""
        settings = Settings(celery={"worker_concurrency": concurrency})
        command = worker_command(settings, queues)
        child = ChildProcess("worker", command, self.env(), self._log("worker"))
        wait_ready(child, lambda: "ready." in child.output())
        self.worker = child
        return child

    def call(self, task: Task, message: Message, timeout_s: float = 30.0) -> Any:
        """Ask this deployment's workers something, as the gateway does (RPC)."""
        from api_gateway.dispatch import call, create_producer

        producer = create_producer(Settings(redis={"url": self.redis_url}))
        try:
            return call(producer, task, message, timeout_s)
        finally:
            producer.close()

    def start_beat(self) -> ChildProcess:
        """The periodic scheduler (the outbox sweeper), as `persona run` starts it."""
        settings = Settings(data_dir=self.data_dir)
        self.beat = ChildProcess("beat", beat_command(settings), self.env(), self._log("beat"))
        return self.beat

    def stop(self) -> None:
        for child in (self.gateway, self.worker, self.beat):
            if child is not None:
                child.stop(timeout=60)


class RedisDatabases:
    """Redis database numbers for private deployments, each flushed when handed out.

    Database `SHARED_REDIS_DB` is the shared deployment's; this process's share of the
    others (every `PROCESSES`-th) is lent to one deployment at a time and given back
    when it stops, so the suite never runs out of them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._free = [db for db in range(15, PROCESSES - 1, -1) if db % PROCESSES == PROCESS]

    def take(self) -> int:
        assert self._free, "every Redis database is lent out: give some back"
        db = self._free.pop()
        redis.Redis.from_url(f"{self.base_url}/{db}").flushdb()
        return db

    def give_back(self, db: int) -> None:
        self._free.append(db)


@pytest.fixture(scope="session")
def redis_dbs(services: Services) -> RedisDatabases:
    return RedisDatabases(services.redis_url)


@pytest.fixture(scope="session")
def system(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The shared deployment most tests talk to (Redis database `SHARED_REDIS_DB`)."""
    deployment = System(services, SHARED_REDIS_DB, tmp_path_factory.mktemp("system"), {})
    deployment.start_gateway()
    yield deployment
    deployment.stop()


@pytest.fixture
def own_database(services: Services) -> Iterator[Services]:
    """The services with a database of this test's own, migrated, owned by the application's
    role: for tests that change what every deployment on a database shares (the active
    index generation)."""
    name = f"own_{uuid.uuid4().hex[:10]}"
    role = make_url(services.database_url).username
    admin = create_engine(services.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    url = make_url(services.database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield dataclasses.replace(services, database_url=url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_system(services: Services, redis_dbs: RedisDatabases, tmp_path: Path) -> Iterator:
    """Builds private deployments for tests that kill, restart or flush things; `on` is
    another database (`own_database`) for one that changes what every process shares."""
    made: list[System] = []

    def make(redis_base: str = "", on: Services | None = None, **env: str) -> System:
        db = redis_dbs.take()
        deployment = System(on or services, db, tmp_path / f"system-{db}", env, redis_base)
        if redis_base:
            redis.Redis.from_url(deployment.redis_url).flushdb()
        deployment.data_dir.mkdir()
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop()
        redis_dbs.give_back(deployment.redis_db)


@pytest.fixture(scope="session")
def gateway(system: System) -> str:
    """The base URL of a real gateway process (uvicorn) on the test services."""
    return system.url


@pytest.fixture(scope="session")
def worker(system: System) -> ChildProcess:
    """The shared deployment's worker, started the first time a test needs one."""
    return system.worker or system.start_worker()


@pytest.fixture(scope="session")
def producer(system: System):
    """A Celery producer configured exactly as the gateway's, on the shared deployment."""
    from api_gateway.dispatch import create_producer

    app = create_producer(Settings(redis={"url": system.redis_url}))
    yield app
    app.close()


@dataclass
class Tenant:
    """An organization of its own for one test, with a client per kind of key."""

    org: str
    key: str
    client: httpx.Client
    reader: httpx.Client


@pytest.fixture
def tenant(gateway: str, engine: Engine) -> Iterator[Tenant]:
    org = f"org-{uuid.uuid4().hex[:12]}"
    with session_scope(engine) as session:
        key = keys.create_key(session, org, ["read_write", "admin"], "test")
        read_key = keys.create_key(session, org, ["read"], "test-read")
    client = httpx.Client(base_url=gateway, headers={"Authorization": f"x-api-key: {key}"})
    reader = httpx.Client(base_url=gateway, headers={"Authorization": f"x-api-key: {read_key}"})
    yield Tenant(org, key, client, reader)
    client.close()
    reader.close()


def set_user_status(engine: Engine, org: str, user_id: str, status: str) -> None:
    """Put a user in a state no route of this release can (deletion lands with its issue)."""
    with session_scope(engine) as session:
        session.execute(
            text(
                "UPDATE users SET status = :status FROM organizations o "
                "WHERE users.org_id = o.id AND o.name = :org AND users.user_id = :user_id"
            ),
            {"status": status, "org": org, "user_id": user_id},
        )


@pytest.fixture
def make_runtime(services: Services, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """A worker's runtime in this process (its own embedded index under `tmp_path`), with
    settings of the test's choosing: for pipeline functions called directly."""
    made: list[Runtime] = []

    def make(**sections: Any) -> Runtime:
        settings = Settings(
            data_dir=tmp_path,
            database={"url": services.database_url},  # type: ignore[arg-type]
            embedding={"models_dir": services.models_dir},  # type: ignore[arg-type]
            **sections,
        )
        made.append(Runtime(settings))
        return made[-1]

    yield make
    for runtime in made:
        runtime.close()

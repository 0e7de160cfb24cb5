"""Fixtures on real services: PostgreSQL, Redis, the gateway over HTTP, worker processes.

The servers are the embedded ones, started once per session in a temporary
folder, unless PERSONA_TEST_DATABASE_URL and PERSONA_TEST_REDIS_URL name others.
Each test is isolated by tenant: it gets an organization and keys of its own,
so tests never see each other's users even though they share one database.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pipeline import keys
from pipeline.config import Settings
from pipeline.db.engine import get_engine, session_scope
from pipeline.db.migrate import upgrade
from pipeline.embedded import EmbeddedPostgres, EmbeddedRedis
from pipeline.embedded.process import free_port
from pipeline.model_build import build_model
from pipeline.supervisor import beat_command, gateway_command, worker_command

BOOTSTRAP_KEY = "pk_test_bootstrap_key_for_the_suite"
AUTH_CACHE_S = 1.0  # seconds a gateway under test reuses what it read of an API key
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str  # without a database number: each system under test picks its own
    model_dir: Path

    def env(self, redis_db: int = 0, **extra: str) -> dict[str, str]:
        """Environment for a child process of the system under test."""
        env = {
            **os.environ,
            "PERSONA_DATABASE_URL": self.database_url,
            "PERSONA_REDIS_URL": f"{self.redis_url}/{redis_db}",
            "PERSONA_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
            "PERSONA_EMBEDDING_MODEL_DIR": str(self.model_dir),
            "PERSONA_LOG_LEVEL": "INFO",
            # Short, so that tests see a revoked key or new limits take effect quickly.
            "PERSONA_GATEWAY_AUTH_CACHE_S": str(AUTH_CACHE_S),
            "HF_HUB_OFFLINE": "1",
        }
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    given_db = os.environ.get("PERSONA_TEST_DATABASE_URL")
    given_redis = os.environ.get("PERSONA_TEST_REDIS_URL")
    data = tmp_path_factory.mktemp("services")
    model_dir = build_model(Path(os.environ.get("PERSONA_EMBEDDING_MODEL_DIR") or data / "model"))
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if given_db:
            db_url = given_db
        else:
            postgres = EmbeddedPostgres(data / "postgres")
            started.append(postgres.start())
            db_url = postgres.url
        if given_redis:
            redis_url = given_redis.rstrip("/").rsplit("/", 1)[0]
        else:
            redis = EmbeddedRedis(data / "redis")
            started.append(redis.start())
            redis_url = redis.url.rsplit("/", 1)[0]
        upgrade(db_url)
        yield Services(db_url, redis_url, model_dir)
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


def wait_http(url: str, child: ChildProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited:\n{child.output()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} not ready at {url}:\n{child.output()[-4000:]}")


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
        return self.services.env(
            self.redis_db,
            PERSONA_DATA_DIR=str(self.data_dir),
            PERSONA_REDIS_URL=self.redis_url,
            **self.env_extra,
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
        wait_http(self.url + "/readyz", self.gateway)

    def start_worker(self, concurrency: int = 2) -> ChildProcess:
        """A real Celery worker process on every queue, as `persona run` starts it."""
        settings = Settings(celery={"worker_concurrency": concurrency})
        child = ChildProcess("worker", worker_command(settings), self.env(), self._log("worker"))
        deadline = time.monotonic() + 60
        while "ready." not in child.output():
            if child.proc.poll() is not None or time.monotonic() > deadline:
                child.stop()
                raise RuntimeError(f"worker did not start:\n{child.output()[-4000:]}")
            time.sleep(0.1)
        self.worker = child
        return child

    def call(self, task: str, message, timeout_s: float = 30.0):
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


_redis_dbs = iter(range(1, 16))


@pytest.fixture(scope="session")
def system(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The shared deployment most tests talk to (Redis database 0)."""
    deployment = System(services, 0, tmp_path_factory.mktemp("system"), {})
    deployment.start_gateway()
    yield deployment
    deployment.stop()


@pytest.fixture
def make_system(services: Services, tmp_path: Path) -> Iterator:
    """Builds private deployments for tests that kill, restart or flush things."""
    made: list[System] = []

    def make(redis_base: str = "", **env: str) -> System:
        db = next(_redis_dbs)
        deployment = System(services, db, tmp_path / f"system-{db}", env, redis_base)
        redis.Redis.from_url(deployment.redis_url).flushdb()
        deployment.data_dir.mkdir()
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop()


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

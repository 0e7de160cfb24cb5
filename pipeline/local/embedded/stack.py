"""The embedded default's storage: PostgreSQL and Redis under one data folder.

One machine, no Docker, no system services: `EmbeddedStack` starts both
servers as children of this process, hands out the URLs the rest of Persona
reads from its settings, and stops them in order (Redis first, so no worker
takes a job it could no longer record; PostgreSQL last).

Layout of the data folder::

    DATA_DIR/embedded.lock   held (flock) while a stack runs on the folder
    DATA_DIR/postgres/       PGDATA, with postgres.log and initdb.log
    DATA_DIR/redis/          appendonly.aof, redis.log, redis.pid
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from pipeline.local.embedded.postgres import EmbeddedPostgres
from pipeline.local.embedded.process import DataDirInUseError
from pipeline.local.embedded.redis import EmbeddedRedis

logger = logging.getLogger("persona.embedded.stack")

LOCK_NAME = "embedded.lock"


class EmbeddedStack:
    """PostgreSQL and Redis for one data folder, owned by the calling process.

    Ports are fresh free ports on every start, so read `database_url` and
    `redis_url` after `start`. Call `start` from the main thread or one that
    lives as long as the stack: the servers are tied to the thread that
    started them and shut down if it ends (see `pipeline.local.embedded.process`).
    Only one stack at a time may use a data folder; a second one fails with
    `DataDirInUseError` naming the pid that holds it.
    """

    def __init__(self, data_dir: Path | str, *, database: str = "persona") -> None:
        self.data_dir = Path(data_dir).absolute()
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres", database=database)
        self.redis = EmbeddedRedis(self.data_dir / "redis")
        self._lock_fd: int | None = None

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL: `postgresql+psycopg://persona@127.0.0.1:PORT/persona`."""
        return self.postgres.url

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def start(self) -> Self:
        """Start PostgreSQL then Redis; on any failure stop what was started and raise."""
        self._lock()
        try:
            self.postgres.start()
            self.redis.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Redis, then PostgreSQL, then free the folder; safe to call twice."""
        try:
            self.redis.stop()
        finally:
            try:
                self.postgres.stop()
            finally:
                self._unlock()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _lock(self) -> None:
        """Hold an flock on the folder's lock file; the kernel drops it if we die.

        The servers' own checks catch a server left running by a dead stack,
        but two stacks starting at the same moment could both pass them, and
        two Redis servers appending to one file would corrupt it.
        """
        if self._lock_fd is not None:
            raise DataDirInUseError(f"this stack already runs on {self.data_dir}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUseError(
                f"{self.data_dir} is already used by another embedded stack (pid {holder}); "
                "stop it first or choose another data folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

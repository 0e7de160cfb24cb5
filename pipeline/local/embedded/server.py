"""What the embedded PostgreSQL and Redis share: one child server on one data folder.

Each server class says how to start its binary and how to probe it; this base
holds the rest once: the port and pid while it runs, waiting for readiness
(stopping what was started if it never comes), the stop by signal, and the
context-manager protocol.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from pipeline.local.embedded.process import (
    LOCALHOST,
    Account,
    EmbeddedError,
    free_port,
    spawn,
    stop,
    wait_ready,
)

logger = logging.getLogger("persona.embedded")


class ChildServer:
    label: ClassVar[str]  # in log lines and errors: "postgres", "redis"
    process_name: ClassVar[str]  # what `ps` shows: "postgres", "redis-server"
    stop_signal: ClassVar[signal.Signals]
    log_name: ClassVar[str]

    def __init__(
        self, data_dir: Path | str, port: int | None, start_timeout: float, stop_timeout: float
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.version = ""
        self._wanted_port = port
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / self.log_name

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedError(f"{self.label} is not running")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def restart(self) -> Self:
        """Stop (or reap, after a crash) and start again on the same port and data, so
        every client's URL stays right; the server recovers its own data on start
        (PostgreSQL's crash recovery, Redis's append-only file)."""
        self._wanted_port = self._port or self._wanted_port
        self.stop()
        return self.start()

    def start(self) -> Self:
        raise NotImplementedError

    def _refuse_second_start(self) -> None:
        if self._proc is not None:
            raise EmbeddedError(f"{self.label} on {self.data_dir} is already started")

    def _choose_port(self) -> int:
        return self._wanted_port or free_port()

    def _launch(
        self,
        argv: Sequence[str | os.PathLike[str]],
        port: int,
        account: Account | None,
        probe: Callable[[], bool],
        then: Callable[[], None] | None = None,
    ) -> Self:
        """Spawn the server (if we die first, it gets its own clean-shutdown signal)
        and wait until it is ready."""
        proc = spawn(
            argv,
            log_path=self.log_path,
            death_signal=self.stop_signal,
            cwd=self.data_dir,
            account=account,
        )
        return self._await_ready(proc, port, probe, then)

    def _await_ready(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        probe: Callable[[], bool],
        then: Callable[[], None] | None = None,
    ) -> Self:
        """Wait until `probe` answers, run `then`, and announce; on any failure stop the
        child so that a failed start leaves nothing running."""
        self._proc, self._port = proc, port
        try:
            wait_ready(
                proc,
                probe,
                name=self.process_name,
                log_path=self.log_path,
                timeout=self.start_timeout,
            )
            if then is not None:
                then()
        except BaseException:
            self.stop()
            raise
        logger.getChild(self.label).info(
            "%s %s listening on %s:%d (pid %d, data %s)",
            self.label,
            self.version,
            LOCALHOST,
            port,
            proc.pid,
            self.data_dir,
        )
        return self

    def stop(self) -> None:
        """The server's clean-shutdown signal, SIGKILL after `stop_timeout`; safe twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        code = stop(proc, self.stop_signal, name=self.process_name, timeout=self.stop_timeout)
        self._port = None
        logger.getChild(self.label).info(
            "%s stopped (pid %d, exit code %d)", self.label, proc.pid, code
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Run a server binary as a supervised child process of the one Persona process.

The embedded default starts real PostgreSQL and Redis servers from binaries
that pip installed. Whatever happens to the supervisor, those servers must not
outlive it and must stop in the order it chooses, so every child is:

- in its own session (``start_new_session=True``): a Ctrl-C in the terminal
  reaches only the supervisor, which then stops the servers one by one;
- bound to the supervisor by a parent-death signal (``PR_SET_PDEATHSIG``): if
  the supervisor dies without stopping them (SIGKILL, OOM killer), the kernel
  sends each server its own clean-shutdown signal.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child ends, not
when the process does. Start servers from the main thread, or from a thread
that lives as long as they do: one started from a pool worker or
``asyncio.to_thread`` is shut down as soon as that thread exits.

PostgreSQL refuses to run as root. When the supervisor is root, the servers
run as a dedicated system account (see `service_account`), which needs to own
its data folders and to be able to reach them and the binaries.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("persona.embedded.process")

LOCALHOST = "127.0.0.1"
SERVICE_ACCOUNT = "persona-embedded"

_PR_SET_PDEATHSIG = 1
# Loaded here, in the parent: between fork and exec the child must not dlopen.
_libc = ctypes.CDLL(None, use_errno=True)


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped as asked."""


class ServerStartError(EmbeddedError):
    """A server did not come up; the message ends with the tail of its log."""


class DataDirInUseError(EmbeddedError):
    """Another live server (or stack) already works in this data folder."""


@dataclass(frozen=True)
class Account:
    """The unprivileged account a server runs as when the supervisor is root."""

    name: str
    uid: int
    gid: int


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now.

    The kernel picks it from the ephemeral range, so two stacks starting at
    once almost never collide; a collision shows as "Address already in use"
    in the server's log and a `ServerStartError`.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def service_account(name: str = SERVICE_ACCOUNT) -> Account | None:
    """The account to run servers as: None (our own) unless we are root.

    As root, the system account `name` is created once (no home, no login
    shell) and reused afterwards; concurrent creators are fine because the
    account is looked up again whatever `useradd` answered.
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home"]
        command += ["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
        try:
            why = subprocess.run(command, capture_output=True, text=True, check=False).stderr
        except FileNotFoundError:
            why = "useradd is not installed"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise EmbeddedError(
                f"running as root, and the system user {name!r} the servers need "
                f"could not be created: {why.strip()}"
            ) from None
        logger.info(
            "created system user %s (uid %d) to run the embedded servers", name, entry.pw_uid
        )
    return Account(name, entry.pw_uid, entry.pw_gid)


def make_private_dir(path: Path, account: Account | None) -> None:
    """Create `path` (mode 0700) for a server and hand it to `account`.

    An existing folder owned by someone else (made by hand, or by a run as
    another user) is chowned as a whole; one already owned is left alone, so a
    large data folder is not walked on every start.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if account is None:
        return
    info = path.stat()
    if (info.st_uid, info.st_gid) != (account.uid, account.gid):
        _chown_tree(path, account)
    ensure_reachable(path, account)


def ensure_reachable(path: Path, account: Account) -> None:
    """Let `account` traverse every parent folder of `path`.

    Folders such as pytest's or `mktemp -d`'s are 0700 root: the server would
    get "permission denied" on its own data folder. Only the search bit is
    added (never read), to exactly the folders that lack it, and each change
    is logged because it touches folders outside the data folder.
    """
    for parent in reversed(path.resolve().parents):
        info = parent.stat()
        if info.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif info.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            os.chmod(parent, stat.S_IMODE(info.st_mode) | bit)
            logger.warning(
                "added search permission (x, not r) to %s so that user %s can reach %s",
                parent,
                account.name,
                path,
            )


def stored_secret(path: Path, account: Account | None = None) -> str:
    """The secret kept in `path` (mode 0600), made on first use: 256 random bits,
    URL-safe, so it can sit in a connection URL unquoted. Created with O_EXCL, so two
    processes racing to make it agree on the first one written."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    chown_to(path, account)
    return secret


def write_private(path: Path, text: str, account: Account | None = None) -> None:
    """Write `text` to `path` readable by its owner only (0600), replacing it whole."""
    staging = path.with_name(path.name + ".tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    chown_to(staging, account)
    os.replace(staging, path)


def chown_to(path: Path, account: Account | None) -> None:
    """Give one file we created for a server to its account (no-op unless root)."""
    if account is not None:
        os.chown(path, account.uid, account.gid, follow_symlinks=False)


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path | None,
    death_signal: signal.Signals,
    cwd: Path,
    account: Account | None = None,
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, its output appended to `log_path` (or shown
    on our own stdout and stderr when None, as `persona run` does for its apps),
    with `pass_fds` open in it (a listening socket we keep).

    `death_signal` is what the child receives if the spawning thread dies
    first; pass the child's clean-shutdown signal so an abandoned child
    still shuts down cleanly. `env` defaults to ours less libpq's PG* variables.
    """
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115
    try:
        if log_path is not None:
            chown_to(log_path, account)
        return subprocess.Popen(
            [os.fspath(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            cwd=cwd,
            env=dict(env) if env is not None else _server_env(),
            start_new_session=True,
            pass_fds=tuple(pass_fds),
            preexec_fn=_die_with_parent(death_signal),  # the only way to set PR_SET_PDEATHSIG
            **_run_as(account),
        )
    finally:
        if log is not None:
            log.close()


def run_to_completion(
    argv: Sequence[str | os.PathLike[str]],
    *,
    name: str,
    log_path: Path,
    cwd: Path,
    account: Account | None = None,
    timeout: float,
) -> None:
    """Run a one-shot tool (initdb) under the same rules as a server; raise if it fails."""
    proc = spawn(argv, log_path=log_path, death_signal=signal.SIGTERM, cwd=cwd, account=account)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(proc, signal.SIGTERM, name=name, timeout=5.0)
        raise ServerStartError(
            f"{name} did not finish in {timeout:.0f} s; {_tail_note(log_path)}"
        ) from None
    if code != 0:
        raise ServerStartError(f"{name} failed with exit code {code}; {_tail_note(log_path)}")


def run_with_input(
    argv: Sequence[str | os.PathLike[str]],
    stdin: str,
    *,
    name: str,
    log_path: Path,
    cwd: Path,
    account: Account | None = None,
    timeout: float,
) -> None:
    """Run a one-shot tool that reads its commands on stdin (PostgreSQL's single-user
    mode) as `account`; its output goes to `log_path`; raise if it fails."""
    with open(log_path, "ab") as log:
        chown_to(log_path, account)
        done = subprocess.run(
            [os.fspath(arg) for arg in argv],
            input=stdin.encode(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=_server_env(),
            timeout=timeout,
            check=False,
            **_run_as(account),
        )
    if done.returncode != 0:
        raise ServerStartError(
            f"{name} failed with exit code {done.returncode}; {_tail_note(log_path)}"
        )


def wait_ready(
    proc: subprocess.Popen[bytes],
    probe: Callable[[], bool],
    *,
    name: str,
    log_path: Path,
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll `probe` until it answers True, the server exits, or `timeout` passes.

    Readiness is a real client round trip, never "the port is open": a server
    that accepts connections but is still recovering is not ready.
    """
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise ServerStartError(
                f"{name} exited with code {code} before it was ready; {_tail_note(log_path)}"
            )
        if probe():
            return
        if time.monotonic() >= deadline:
            raise ServerStartError(
                f"{name} (pid {proc.pid}) was not ready after {timeout:.0f} s; "
                f"{_tail_note(log_path)}"
            )
        time.sleep(interval)


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals, *, name: str, timeout: float) -> int:
    """Ask a child to stop with `sig`, wait up to `timeout`, then SIGKILL; reap it.

    SIGKILL goes to the child's whole process group (its own session), so
    helpers it forked without leaving the group die with it. Returns the exit
    code (negative: killed by that signal).
    """
    if proc.poll() is None:
        proc.send_signal(sig)  # Popen checks it has not reaped this pid already
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s (pid %d) still running %.0f s after %s: sending SIGKILL",
                name,
                proc.pid,
                timeout,
                sig.name,
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def ensure_not_in_use(
    workdir: Path, executable: Path, pid_file: Path, *, name: str, grace: float = 10.0
) -> None:
    """Fail if a live `executable` still works in `workdir`, naming its pid.

    A server's own pid file is not enough: a killed run leaves it behind, and
    a pid can be reused. Both servers chdir into their data folder, so the
    processes that run `executable` with `workdir` as their current folder are
    exactly the live ones. Leftover children of a killed PostgreSQL exit on
    their own within moments; they get `grace` seconds. A pid file that names
    a live process which is not ours (a reused pid) is removed, because
    PostgreSQL would otherwise refuse to start.
    """
    owner = _read_pid(pid_file)
    deadline = time.monotonic() + grace
    while pids := processes_in(workdir, executable):
        if owner in pids:
            raise DataDirInUseError(
                f"{workdir} is in use by a running {name} (pid {owner}); stop it first"
            )
        if time.monotonic() >= deadline:
            raise DataDirInUseError(
                f"{workdir} is in use by leftover {name} processes (pids "
                f"{', '.join(map(str, pids))}) that did not exit in {grace:.0f} s"
            )
        time.sleep(0.1)
    if owner is not None and _alive(owner):
        pid_file.unlink(missing_ok=True)
        logger.info(
            "removed stale %s: pid %d is alive but is no %s of this folder", pid_file, owner, name
        )


def processes_in(workdir: Path, executable: Path) -> list[int]:
    """Pids of live processes running `executable` with `workdir` as current folder."""
    want_cwd, want_exe = str(workdir.resolve()), str(executable.resolve())
    found = []
    for pid in _all_pids():
        try:
            if (
                os.readlink(f"/proc/{pid}/cwd") == want_cwd
                and os.readlink(f"/proc/{pid}/exe") == want_exe
            ):
                found.append(pid)
        except OSError:  # gone meanwhile, a zombie, or not ours to inspect
            continue
    return found


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file, for error messages."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16_384))
            text = log.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def _tail_note(log_path: Path) -> str:
    return f"last lines of {log_path}:\n{log_tail(log_path)}"


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """The child-side half of PR_SET_PDEATHSIG, run between fork and exec.

    subprocess runs it after switching user (setreuid clears the setting, so
    it must come last). If the parent died before the call took effect, the
    signal will never come: the child then exits at once.
    """
    parent = os.getpid()

    def preexec() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _run_as(account: Account | None) -> dict[str, Any]:
    """Popen arguments that drop root for `account`, supplementary groups included."""
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _server_env() -> dict[str, str]:
    """Our environment minus PG* variables (PGDATA, PGPORT...) that would override our flags."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _chown_tree(root: Path, account: Account) -> None:
    os.chown(root, account.uid, account.gid)
    for folder, dirs, files in os.walk(root):
        for entry in (*dirs, *files):
            os.chown(os.path.join(folder, entry), account.uid, account.gid, follow_symlinks=False)


def _read_pid(pid_file: Path) -> int | None:
    try:
        first = pid_file.read_text().split("\n", 1)[0].strip()
        pid = int(first)
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid > 0 else None


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _all_pids() -> Iterable[int]:
    return (int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit())

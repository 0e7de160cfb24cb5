"""Start and stop a whole Persona (`persona run`) in a scratch folder, for benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pipeline.local.embedded.process import free_port

PERSONA = str(Path(sys.executable).with_name("persona"))


@dataclass
class RunningSystem:
    proc: subprocess.Popen[bytes]
    url: str
    key: str
    log: Path
    pids: dict[str, int] = field(default_factory=dict)

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory of each process (children included for the servers)."""
        return {name: _tree_peak_mb(pid) for name, pid in self.pids.items()}

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by each process (its children included: Postgres backends)."""
        return {name: _tree_cpu_s(pid) for name, pid in self.pids.items()}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(120)


def wait_jobs(http: httpx.Client, job_ids: list[str], poll_s: float = 0.2) -> list[dict]:
    """Each job as it ended, in order, once all succeeded; a failed one raises.

    Jobs finish about in the order they were accepted, so only the last one is polled
    until it ends, a few requests a second, and then all are read, from the
    organization's job list a page of `PAGE` at a time where there are many (one GET
    per job doubled the requests of a stream of one-event requests, and polling every
    job at 5 Hz cost the gateway ~20 CPU seconds per 20k events in bench-ingest); any
    not ended yet are waited for the same way.
    """
    ended: dict[str, dict] = {}
    waiting = list(job_ids)
    while waiting:
        if http.get(f"/jobs/{waiting[-1]}").json()["status"] not in FINISHED:
            time.sleep(poll_s)
            continue
        for job in _read(http, waiting):
            if job["status"] == "failed":
                raise RuntimeError(f"job {job['job_id']} failed: {job.get('error')}")
            if job["status"] == "succeeded":
                ended[job["job_id"]] = job
        waiting = [job_id for job_id in waiting if job_id not in ended]
    return [ended[job_id] for job_id in job_ids]


FINISHED = ("succeeded", "failed")


def _read(http: httpx.Client, job_ids: list[str]) -> list[dict]:
    """The jobs as they are now: one by one, or from the job list where there are many."""
    if len(job_ids) < PAGE:
        return [http.get(f"/jobs/{job_id}").json() for job_id in job_ids]
    wanted, found = set(job_ids), {}
    params: dict[str, str | int] = {"limit": PAGE}
    while not wanted <= found.keys():
        page = http.get("/jobs", params=params).json()
        found.update({job["job_id"]: job for job in page["jobs"] if job["job_id"] in wanted})
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    return list(found.values())


PAGE = 200
"""Jobs per page of `GET /jobs` (its most)."""


def start(extra_env: dict[str, str] | None = None, data_dir: Path | None = None) -> RunningSystem:
    """`persona run` on `data_dir` (a fresh scratch folder by default), once it serves."""
    data = data_dir or Path(tempfile.mkdtemp(prefix="persona-bench-"))
    port = free_port()
    # Text logs: the pids and the key are read from them below.
    env = {
        **os.environ,
        "PERSONA_DATA_DIR": str(data),
        "PERSONA_PORT": str(port),
        "PERSONA_LOG_FORMAT": "text",
    }
    env.update(extra_env or {})
    log = data / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([PERSONA, "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if match := re.search(r"API key\s+(\S+)", text):
            pids = {}
            for name, pid in re.findall(r"persona\.run: (\w+) started \(pid (\d+)\)", text):
                pids[name] = int(pid)
            for name, pid in re.findall(
                r"persona\.embedded\.(\w+): \S+ [\d.]+ listening.*?pid (\d+)", text
            ):
                pids[name] = int(pid)
            pids = {**_roles(proc.pid), **pids}
            return RunningSystem(proc, f"http://127.0.0.1:{port}", match.group(1), log, pids)
        if proc.poll() is not None:
            raise RuntimeError(f"persona run exited:\n{text[-3000:]}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("persona run did not become ready")


def _roles(pid: int) -> dict[str, int]:
    """The gateway, worker and beat children of `persona run`, by their command lines
    (the log names them only at INFO level)."""
    roles = {}
    for child in _children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_text().split("\0")
        except FileNotFoundError:
            continue
        if "api_gateway.serve" in argv or "uvicorn" in argv:
            roles["gateway"] = child
        elif "celery" in argv:
            roles["worker" if "worker" in argv else "beat"] = child
    return roles


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def _tree_peak_mb(pid: int) -> float:
    return _peak_mb(pid) + sum(_tree_peak_mb(c) for c in _children(pid))


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system time of `pid` and of its children that exited and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, cutime, cstime


def _tree_cpu_s(pid: int) -> float:
    return _cpu_s(pid) + sum(_tree_cpu_s(c) for c in _children(pid))

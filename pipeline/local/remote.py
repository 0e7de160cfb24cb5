"""The running system over HTTP, for the commands that ask it for background work (a reindex,
a repair, a summaries rebuild) and follow the job with a progress bar.

Why HTTP and not the database, as `persona keys` does: a job needs its message on
the broker as well as its row, and the gateway already checks the key's scopes,
makes the row and publishes through its outbox in one transaction. So these
commands are one more client of the documented API, and work the same against a
distributed deployment (`--url`) as against `persona run` on this machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.config import Settings
from pipeline.local.supervisor import KEY_FILE, running_urls

POLL_S = 0.5
TIMEOUT_S = 30.0
ENDED = frozenset({"succeeded", "failed"})


class RemoteError(RuntimeError):
    """The system could not be reached, or refused the request: the message says which."""


@dataclass(frozen=True)
class Remote:
    url: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}, timeout=TIMEOUT_S)


def locate(settings: Settings, url: str | None, key: str | None) -> Remote:
    """Where the system answers and the key to use: the ones given, else what a
    `persona run` on this data dir wrote (its run file, its bootstrap key)."""
    data_dir = settings.data_dir.resolve()
    url = url or running_urls(data_dir).get("gateway_url")
    if not url:
        raise RemoteError(
            "no running system found: start one with `persona run` (or `make run`), "
            "or name one with --url / PERSONA_URL"
        )
    key = key or _stored_key(settings, data_dir / KEY_FILE)
    if not key:
        raise RemoteError("no API key: pass --api-key or set PERSONA_API_KEY (operator scope)")
    return Remote(url.rstrip("/"), key)


def _stored_key(settings: Settings, path: Path) -> str | None:
    if settings.bootstrap_key:
        return settings.bootstrap_key
    return path.read_text().strip() if path.exists() else None


def call(remote: Remote, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The JSON answer of one request; RemoteError with the server's own message for an
    error answer, or with what went wrong on the way."""
    try:
        with remote.client() as client:
            response = client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise RemoteError(f"{remote.url} did not answer: {exc}") from None
    if response.is_error:
        try:
            error = response.json()["error"]
            detail = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            detail = response.text[:500]
        raise RemoteError(f"{method} {path} answered {response.status_code} {detail}")
    return response.json()


def follow(remote: Remote, job_id: str) -> dict[str, Any]:
    """Show the job's progress until it ends, and return its final state. Ctrl-C stops
    only the watching (KeyboardInterrupt propagates): the job goes on in the system."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}  ETA {task.fields[eta]}"),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("queued", total=None, rate="-", eta="-")
        while True:
            job = call(remote, "GET", f"/jobs/{job_id}")
            shown = job.get("progress") or {}
            rate, eta = shown.get("rate_per_s"), shown.get("eta_s")
            bar.update(
                task,
                description=shown.get("phase") or job["status"],
                completed=shown.get("done", 0),
                total=shown.get("total") or None,
                rate=f"{rate:.1f}/s" if rate else "-",
                eta=_duration(eta) if eta is not None else "-",
            )
            if job["status"] in ENDED:
                return dict(job)
            time.sleep(POLL_S)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"

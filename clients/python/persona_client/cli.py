"""`persona-client`: bulk import, a user's export and the job list, from a shell.

    persona-client import FILE [--user-id U] [--format jsonl|csv] [--map content=body,...]
                               [--rejects PATH] [--concurrency N] [--wait]
    persona-client export USER_ID -o FILE
    persona-client jobs [--status S] [--user-id U] [--kind K] [--limit N] [--json]

The server and key come from `--url`/`--api-key` or `PERSONA_URL`/`PERSONA_API_KEY`.
It needs only what the SDK needs; with the `cli` extra (`pip install
'persona-client[cli]'`) the progress bars are tqdm's, otherwise a line a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from persona_client import bulk
from persona_client.client import Persona
from persona_client.errors import JobFailed, JobTimeout, PersonaError
from persona_client.retries import Retries

IMPORT_RETRIES = Retries(attempts=10, max_wait_s=300.0)
"""An import waits out a busy server (429 with Retry-After, 503) rather than stop."""


class Bar:
    """A progress bar: tqdm's when it is installed, else a line on stderr every second."""

    def __init__(self, description: str, total: int | None, unit: str) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.done, self.started, self.shown = 0, time.monotonic(), 0.0
        try:
            from tqdm import tqdm
        except ImportError:
            self._tqdm: Any = None
        else:
            self._tqdm = tqdm(total=total, desc=description, unit=f" {unit}", file=sys.stderr)

    def update(self, n: int, **info: int) -> None:
        self.done += n
        if self._tqdm is not None:
            self._tqdm.update(n)
            if info:
                self._tqdm.set_postfix(info, refresh=False)
            return
        now = time.monotonic()
        if now - self.shown >= 1.0 or (self.total is not None and self.done >= self.total):
            self.shown = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = f", ETA {(self.total - self.done) / rate:.0f} s" if self.total and rate else ""
            of = f"/{self.total}" if self.total is not None else ""
            extra = "".join(f", {k} {v}" for k, v in info.items())
            print(
                f"{self.description}: {self.done}{of} {self.unit}, {rate:.1f}/s{eta}{extra}",
                file=sys.stderr,
            )

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


def _count_lines(path: Path, offset: int) -> int:
    with path.open("rb") as f:
        f.seek(offset)
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _client(args: argparse.Namespace, retries: Retries | None = None) -> Persona:
    if not args.api_key:
        raise SystemExit("persona-client: no API key (--api-key or PERSONA_API_KEY)")
    return Persona(args.url, args.api_key, timeout=args.timeout, retries=retries)


def run_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    kind = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        column_map = bulk.parse_map(args.map)
    except ValueError as exc:
        raise SystemExit(f"persona-client: {exc}") from None
    state_path = Path(args.state or f"{path}.persona-import.json")
    rejects_path = Path(args.rejects or f"{path}.rejects.jsonl")
    state = bulk.State.load(state_path, path)
    resumed = state.offset > 0
    if resumed:
        print(f"resuming after line {state.line} (state: {state_path})", file=sys.stderr)
    total = _count_lines(path, state.offset) - (1 if kind == "csv" and not resumed else 0)
    bar = Bar("import", max(total, 0), "items")

    def progress(n: int, outcome: bulk.Outcome) -> None:
        s = importer.state
        bar.update(n, accepted=s.accepted, duplicates=s.duplicates, rejected=s.rejected)

    with (
        _client(args, IMPORT_RETRIES) as client,
        path.open("rb") as source,
        rejects_path.open("a" if resumed else "w", encoding="utf-8") as rejects,
    ):
        records: Iterator[bulk.Record]
        if kind == "csv":
            records = bulk.read_csv(source, state.offset, state.line, args.user_id, column_map)
        else:
            records = bulk.read_jsonl(source, state.offset, state.line, args.user_id)
        importer = bulk.Import(
            client,
            state,
            state_path,
            rejects,
            source=args.source,
            chunk_size=args.batch_size,
            concurrency=args.concurrency,
            progress=progress,
        )
        try:
            importer.run(records, path)
        except PersonaError as exc:
            bar.close()
            print(f"persona-client: import stopped: {exc}", file=sys.stderr)
            print(f"re-run the same command to resume after line {state.line}", file=sys.stderr)
            return 1
        bar.close()
        failed = _wait(client, state.jobs, args.wait_timeout) if args.wait else 0
    totals = {
        "accepted": state.accepted,
        "duplicates": state.duplicates,
        "rejected": state.rejected,
        "failed_jobs": failed,
        "rejects_file": str(rejects_path) if state.rejected else None,
    }
    if args.json:
        print(json.dumps(totals))
    else:
        print(
            f"accepted {state.accepted}, duplicates {state.duplicates}, rejected {state.rejected}"
        )
        if state.rejected:
            print(f"rejected lines and their reasons: {rejects_path}")
    return 1 if failed else 0


def _wait(client: Persona, job_ids: Sequence[str], timeout_s: float) -> int:
    """Wait until every job of the import has indexed its items; the number that failed."""
    bar, failed = Bar("searchable", len(job_ids), "jobs"), 0
    deadline = time.monotonic() + timeout_s
    for job_id in job_ids:
        try:
            client.wait_for_job(job_id, timeout=max(deadline - time.monotonic(), 0.1))
        except JobFailed as exc:
            failed += 1
            print(f"job {job_id} failed: {exc.job.error}", file=sys.stderr)
        except JobTimeout:
            bar.close()
            raise SystemExit(
                f"persona-client: not all searchable after {timeout_s:.0f} s"
            ) from None
        bar.update(1)
    bar.close()
    return failed


def run_export(args: argparse.Namespace) -> int:
    """Written to `FILE.part`, renamed to FILE when complete: a file named FILE is whole."""
    with _client(args) as client:
        if args.output == "-":
            lines = client.export_user(args.user_id, sys.stdout.buffer)
        else:
            target = Path(args.output)
            partial = target.with_name(target.name + ".part")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                lines = client.export_user(args.user_id, out)
            partial.replace(target)
    print(f"exported {lines} records of {args.user_id}", file=sys.stderr)
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.iter_jobs(args.status, args.user_id, args.kind, min(args.limit, 200))
        for job in islice(found, args.limit):
            if args.json:
                print(job.model_dump_json())
            else:
                counts = job.counts
                print(
                    f"{job.job_id}  {job.status.value:<9} {job.kind:<8} {job.user_id or '-'}  "
                    f"items={counts.items} duplicates={counts.duplicates} "
                    f"created={job.created_at.isoformat()}"
                )
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="persona-client", description=__doc__.splitlines()[0])
    top.add_argument("--url", default=os.environ.get("PERSONA_URL", "http://127.0.0.1:8000"))
    top.add_argument("--api-key", default=os.environ.get("PERSONA_API_KEY"))
    top.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    commands = top.add_subparsers(dest="command", required=True)

    imp = commands.add_parser("import", help="import a JSONL or CSV file of events/documents")
    imp.add_argument("file")
    imp.add_argument("--user-id", help="the user of every line that names none")
    imp.add_argument("--format", choices=("jsonl", "csv"), help="default: from the extension")
    imp.add_argument("--map", help="CSV: FIELD=COLUMN,... e.g. content=body,timestamp=date")
    imp.add_argument("--source", default="import", help="the source recorded on every item")
    imp.add_argument("--rejects", help="default: FILE.rejects.jsonl")
    imp.add_argument("--state", help="resume state; default: FILE.persona-import.json")
    imp.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    imp.add_argument("--batch-size", type=int, default=500, help="lines per request")
    imp.add_argument("--wait", action="store_true", help="return once all is searchable")
    imp.add_argument("--wait-timeout", type=float, default=3600.0)
    imp.add_argument("--json", action="store_true", help="print the totals as JSON")
    imp.set_defaults(run=run_import)

    exp = commands.add_parser("export", help="everything held about a user, as NDJSON")
    exp.add_argument("user_id")
    exp.add_argument("-o", "--output", default="-", help="a file, or - for stdout")
    exp.set_defaults(run=run_export)

    jobs = commands.add_parser("jobs", help="list jobs, newest first")
    jobs.add_argument("--status", choices=("queued", "running", "succeeded", "failed"))
    jobs.add_argument("--user-id")
    jobs.add_argument("--kind", choices=("ingest", "delete", "reindex", "verify", "rebuild"))
    jobs.add_argument("--limit", type=int, default=50, help="at most this many")
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")
    jobs.set_defaults(run=run_jobs)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "concurrency", 1) < 1 or getattr(args, "batch_size", 1) < 1:
        raise SystemExit("persona-client: --concurrency and --batch-size must be at least 1")
    try:
        code: int = args.run(args)
    except PersonaError as exc:
        print(f"persona-client: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Which of the project's files one ingested event and one `/chunks` read pass through.

Starts `persona run` with a trace in the gateway and the worker (`bench/flowtrace`):
each process records which project file is executing whenever that changes. Then,
on a warm system, one event is ingested (from `POST /ingest` to its point and chunk
row, the job polled in PostgreSQL so that no request of ours is traced) and one
`POST /chunks` is answered. For each flow it prints two views:

- the reading path: the project files on the call stack at each moment the data
  changes hands (stored, published, chunked, embedded, written to the index; for a
  read: sent, embedded, searched both ways, shown), in the order a reader meets
  them. That is what one follows to see how an event becomes a point;
- everything executed: every project file entered, middleware and authentication
  included, how often, and three counts: files, jumps from one file to another,
  and jumps back to a file already opened.

`python -m bench.flow` (or `make flow`). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench import system

ROOT = Path(__file__).resolve().parent.parent
EVENT = {
    "event_id": "flow-1",
    "type": "email",
    "timestamp": "2025-10-10T09:00:00Z",
    "content": "Let's move stand-up to 2 PM starting next week.",
}


MARKS = (
    # gateway: stored, then published after the commit; a read sent to a worker
    "accept",
    "send",
    "call",
    # worker: chunked, embedded, written (the index write is inside the last)
    "Chunker.split_many",
    "Embedder.embed",
    "EdgeIndex.upsert",
    # worker, a read: searched densely and lexically, then shown
    "EdgeIndex._query",
    "lexical",  # the lexical ranking, before it had a module of its own
    "rank",
    "_shown",
)


def read_trace(folder: Path, start: float, end: float) -> tuple[list[str], list[str]]:
    """Between `start` and `end`, all traced processes merged by time: the files entered
    (consecutive repeats collapsed), and the reading path (see the module docstring)."""
    records = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            t, tid, entry = json.loads(line)
            if start <= t <= end and entry is not None:
                records.append((t, f"{path.stem}/{tid}", entry))
    records.sort(key=lambda r: r[0])
    entered: list[str] = []
    reading: list[str] = []
    for _, _, entry in records:
        if isinstance(entry, dict):
            for file in entry["stack"]:
                if file not in reading:
                    reading.append(file)
        elif not entered or entered[-1] != entry:
            entered.append(entry)
    return entered, reading


def report(name: str, files: list[str], reading: list[str]) -> dict[str, int]:
    print(f"\n{name}\n  reading path: {len(reading)} files")
    for number, file in enumerate(reading, 1):
        print(f"  {number:2}. {file}")
    entered = Counter(files)
    seen: set[str] = set()
    back = 0
    for file in files:
        back += file in seen
        seen.add(file)
    counts = {"files": len(entered), "jumps": max(0, len(files) - 1), "back": back}
    print(
        f"  everything executed: {counts['files']} files, {counts['jumps']} jumps, "
        f"{back} back to a file already opened"
    )
    order = list(dict.fromkeys(files))
    for number, file in enumerate(order, 1):
        print(f"  {number:2}. {file}  (entered {entered[file]}x)")
    return counts


def settle(folder: Path, quiet_s: float = 1.0, timeout_s: float = 30.0) -> float:
    """Wait until no traced process has recorded anything for `quiet_s`; the time then."""
    deadline = time.monotonic() + timeout_s
    size = -1
    while time.monotonic() < deadline:
        now = sum(p.stat().st_size for p in folder.glob("*.jsonl"))
        if now == size:
            return time.monotonic() - quiet_s
        size = now
        time.sleep(quiet_s)
    return time.monotonic()


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    trace = Path(tempfile.mkdtemp(prefix="persona-flow-"))
    env = {
        "PERSONA_TRACE_FLOW": str(trace),
        "PERSONA_TRACE_ROOT": str(ROOT),
        "PERSONA_TRACE_MARKS": ",".join(MARKS),
        "PYTHONPATH": str(ROOT / "bench" / "flowtrace"),
        "PERSONA_SUMMARIES_QUIET_S": "600",  # the later summary refresh is another flow
        "PERSONA_LOG_LEVEL": "WARNING",
    }
    running = system.start(env)
    run_file = json.loads((Path(running.log).parent / "run.json").read_text())
    engine = create_engine(run_file["database_url"])
    headers = {"Authorization": f"x-api-key: {running.key}"}

    def wait_job(job_id: str) -> None:
        deadline = time.monotonic() + 120
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                status = conn.execute(
                    text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}
                ).scalar_one()
                conn.commit()
                if status == "succeeded":
                    return
                time.sleep(0.1)
        raise RuntimeError(f"job {job_id} did not succeed")

    try:
        with httpx.Client(base_url=running.url, headers=headers, timeout=60) as http:
            # Warm everything first: caches, lazy imports, the model, the index.
            warm = {**EVENT, "event_id": "warm"}
            wait_job(
                http.post("/ingest", json={"user_id": "warm", "events": [warm]}).json()["job_id"]
            )
            http.post("/chunks", json={"user_id": "warm", "query": "stand-up"}).raise_for_status()
            settle(trace)

            start = time.monotonic()
            accepted = http.post("/ingest", json={"user_id": "flow", "events": [EVENT]})
            accepted.raise_for_status()
            wait_job(accepted.json()["job_id"])
            ingest_end = settle(trace)

            read_start = time.monotonic()
            http.post("/chunks", json={"user_id": "flow", "query": "when is stand-up?"})
            read_end = settle(trace)
    finally:
        running.stop()
        engine.dispose()
    report("POST /ingest, one event to its point", *read_trace(trace, start, ingest_end))
    report("POST /chunks", *read_trace(trace, read_start, read_end))


if __name__ == "__main__":
    main()

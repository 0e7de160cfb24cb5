"""`persona-client import`'s engine: a JSONL or CSV file into `/ingest`, resumably.

Records are read in file order, checked one by one (a bad record is rejected with
its reason, never sent), packed into chunks of consecutive records and sent by
a few threads at once; each thread sends one request per user of its chunk.
429 and 503 are waited out as `Retries` says (the server's `Retry-After`).

Resuming, two layers:
- Stable ids (`batching.prepare`, as `ingest_many`): a record without an id gets
  one from its content, and the server stores an id once per user, so sending a
  record again adds nothing (it is counted a duplicate). This alone makes any
  re-run safe.
- A state file (`FILE.persona-import.json`): the byte offset up to which every
  record has been answered (accepted, duplicate or rejected), advanced over the
  longest prefix of finished chunks, so chunks finishing out of order never move
  it past a gap. A re-run seeks there and does not even read, check or send
  what was done: on a file of millions of lines, a restart near the end costs
  seconds instead of a full re-send counted as duplicates. The state also keeps
  a hash of the file's head, so a different file at the same path starts over.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from persona_client.batching import Batch, Prepared, prepare
from persona_client.client import Persona
from persona_client.errors import BadRequest, Conflict, PayloadTooLarge, UnprocessableEntity

HEAD_BYTES = 64 * 1024
FIELDS = ("event_id", "document_id", "type", "timestamp", "content", "title", "user_id")


@dataclass
class Record:
    """One line (JSONL) or row (CSV) of the file, checked."""

    number: int  # 1-based line number; for CSV, of the row's first line
    end: int  # byte offset just after it
    text: str
    user_id: str | None = None
    item: Prepared | None = None
    reason: str | None = None  # why it is rejected without being sent


@dataclass
class State:
    """How far an import has got; saved after every finished chunk."""

    offset: int = 0
    line: int = 0
    head: str = ""
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    jobs: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, source: Path) -> State:
        """The saved state, or a fresh one if there is none or it is of another file."""
        try:
            state = cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return cls()
        return state if state.head == head_hash(source, state.offset) else cls()

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        os.replace(temporary, path)


def head_hash(source: Path, offset: int) -> str:
    with source.open("rb") as f:
        return hashlib.sha256(f.read(min(offset, HEAD_BYTES))).hexdigest()


def _why(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if part != "pending")
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def check(number: int, end: int, text: str, fields: Any, default_user: str | None) -> Record:
    """A record of `fields` (a parsed line or a mapped row), with its user and item."""
    record = Record(number, end, text)
    if not isinstance(fields, Mapping):
        record.reason = "not a JSON object"
        return record
    given = dict(fields)
    record.user_id = given.pop("user_id", None) or default_user
    if not isinstance(record.user_id, str) or not record.user_id:
        record.reason = "no user_id (give one per line or --user-id)"
        return record
    try:
        record.item = prepare(given)
    except ValidationError as exc:
        record.reason = _why(exc)
    return record


def _lines(f: IO[bytes], offset: int, line: int) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset after it, bytes) from `offset`, which is line `line`'s end."""
    f.seek(offset)
    for raw in f:
        offset += len(raw)
        line += 1
        yield line, offset, raw


def read_jsonl(f: IO[bytes], offset: int, line: int, default_user: str | None) -> Iterator[Record]:
    for number, end, raw in _lines(f, offset, line):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not text.strip():
            continue
        try:
            fields = json.loads(text)
        except ValueError as exc:
            yield Record(number, end, text, reason=f"invalid JSON: {exc}")
            continue
        yield check(number, end, text, fields, default_user)


def parse_map(spec: str | None) -> dict[str, str]:
    """`content=body,timestamp=date` -> {field: column}; unknown fields raise ValueError."""
    found: dict[str, str] = {}
    for pair in filter(None, (spec or "").split(",")):
        name, sep, column = pair.partition("=")
        if not sep or name.strip() not in FIELDS:
            raise ValueError(f"bad --map entry {pair!r}: use FIELD=COLUMN, FIELD one of {FIELDS}")
        found[name.strip()] = column.strip()
    return found


def read_csv(
    f: IO[bytes], offset: int, line: int, default_user: str | None, column_map: dict[str, str]
) -> Iterator[Record]:
    """Rows of a CSV with a header; each field from the column `column_map` names for it
    (by default the column of the field's own name); empty cells are left out."""
    header_line = f.readline()
    header = next(csv.reader([header_line.decode("utf-8-sig")]), [])
    if offset < len(header_line):
        offset, line = len(header_line), 1
    position = {"line": line, "end": offset}

    def texts() -> Iterator[str]:  # physical lines; `position` says where the reader is
        for number, end, raw in _lines(f, offset, line):
            position["line"], position["end"] = number, end
            yield raw.decode("utf-8", "replace")

    first = line + 1
    for row in csv.reader(texts()):
        number, first = first, position["line"] + 1
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row, strict=False))
        fields = {
            name: cells[column_map.get(name, name)]
            for name in FIELDS
            if cells.get(column_map.get(name, name), "").strip()
        }
        text = ",".join(row)
        yield check(number, position["end"], text, fields, default_user)


@dataclass
class Outcome:
    """What one chunk came to."""

    accepted: int = 0
    duplicates: int = 0
    jobs: list[str] = field(default_factory=list)
    rejects: list[tuple[Record, str]] = field(default_factory=list)


def _send(
    client: Persona, source: str | None, user: str, group: list[Record], out: Outcome
) -> None:
    """One request for `group`; split when the server refuses it as a whole, so that only
    the records it names are rejected."""
    batch = Batch(user, source, [r.item for r in group if r.item is not None])
    try:
        answer = client.send(batch.call())
    except (PayloadTooLarge, BadRequest, UnprocessableEntity) as exc:
        if len(group) == 1:
            out.rejects.append((group[0], f"{exc.code}: {exc.message}"))
            return
        middle = len(group) // 2
        for half in (group[:middle], group[middle:]):
            _send(client, source, user, half, out)
        return
    except Conflict as exc:  # the user is being erased: nothing of it can be written
        out.rejects.extend((r, f"{exc.code}: {exc.message}") for r in group)
        return
    new = answer.ingested.events + answer.ingested.documents
    out.accepted += new
    out.duplicates += answer.duplicates
    if new:
        out.jobs.append(answer.job_id)


def send_chunk(client: Persona, source: str | None, chunk: list[Record]) -> Outcome:
    out = Outcome()
    groups: dict[str, list[Record]] = {}
    for record in chunk:
        if record.reason is not None:
            out.rejects.append((record, record.reason))
        else:
            groups.setdefault(str(record.user_id), []).append(record)
    for user, group in groups.items():
        _send(client, source, user, group, out)
    return out


class Import:
    """One run over `records`, `concurrency` chunks in flight at most twice over."""

    def __init__(
        self,
        client: Persona,
        state: State,
        state_path: Path,
        rejects: IO[str],
        *,
        source: str | None,
        chunk_size: int,
        concurrency: int,
        progress: Callable[[int, Outcome], None],
    ) -> None:
        self.client, self.state, self.state_path, self.rejects = client, state, state_path, rejects
        self.source, self.chunk_size, self.concurrency = source, chunk_size, concurrency
        self.progress = progress
        self._finished: dict[int, tuple[int, int]] = {}  # chunk seq -> (end offset, line)
        self._next = 0

    def run(self, records: Iterator[Record], source_file: Path) -> State:
        self.source_file = source_file
        in_flight: dict[Future[Outcome], tuple[int, list[Record]]] = {}
        with ThreadPoolExecutor(self.concurrency) as pool:
            seq, chunk = 0, []
            for record in records:
                chunk.append(record)
                if len(chunk) >= self.chunk_size:
                    in_flight[pool.submit(send_chunk, self.client, self.source, chunk)] = (
                        seq,
                        chunk,
                    )
                    seq, chunk = seq + 1, []
                    while len(in_flight) >= 2 * self.concurrency:
                        self._collect(in_flight, wait(in_flight, return_when=FIRST_COMPLETED).done)
            if chunk:
                in_flight[pool.submit(send_chunk, self.client, self.source, chunk)] = (seq, chunk)
            while in_flight:
                self._collect(in_flight, wait(in_flight, return_when=FIRST_COMPLETED).done)
        return self.state

    def _collect(
        self, in_flight: dict[Future[Outcome], tuple[int, list[Record]]], done: set[Future[Outcome]]
    ) -> None:
        for future in done:
            seq, chunk = in_flight.pop(future)
            outcome = future.result()  # a failure that is not one record's stops the run here
            state = self.state
            state.accepted += outcome.accepted
            state.duplicates += outcome.duplicates
            state.rejected += len(outcome.rejects)
            state.jobs.extend(outcome.jobs)
            for record, reason in sorted(outcome.rejects, key=lambda r: r[0].number):
                line = {"line": record.number, "reason": reason, "text": record.text}
                self.rejects.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.rejects.flush()
            self._finished[seq] = (chunk[-1].end, chunk[-1].number)
            while self._next in self._finished:
                state.offset, state.line = self._finished.pop(self._next)
                self._next += 1
            state.head = head_hash(self.source_file, state.offset)
            state.save(self.state_path)
            self.progress(len(chunk), outcome)

"""Fill a Persona store directly, bypassing ingestion, for read benchmarks.

Embedding runs at a few hundred short texts per second on two cores, so a store
of a million chunks cannot be made through `POST /ingest` in a benchmark's
time. Instead a few thousand realistic texts (bench.corpus templates, under the
same header the chunker writes) are embedded once with the project's own model,
and every chunk of the store is one of them with its own date, user and ids,
paired with a perturbed copy of its vector (Gaussian noise, renormalised; cosine
≈ 0.9 to the original), so neighbours are realistic without running the model.

Rows go to Postgres with COPY (items, then their chunks, ids assigned here) and
points to the vector index through `pipeline.vectors` with the payload
`pipeline.placing` writes (its words and terms included), so what a query reads
is what ingestion would have left. The index folder is owned by one process: fill before the worker
starts.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, insert, text

from bench import corpus
from pipeline import keys
from pipeline.chunking import Source, header
from pipeline.db.engine import session_scope
from pipeline.db.models import User
from pipeline.embedding import Embedder
from pipeline.models import MINILM
from pipeline.placing import Target
from pipeline.vectors import Point, chunk_point_id, tenant_key

# Where events come from, as a connector would label them: (source, type, templates).
EVENT_KINDS = [
    ("slack", "message", corpus.CHATS, 5),
    ("imessage", "message", corpus.CHATS, 2),
    ("gmail", "email", corpus.EMAILS, 3),
    ("gcal", "calendar", corpus.CALENDAR, 1),
]
DOC_PROBABILITY = 0.02  # of an item; a document has 3-8 chunks, so ~10% of chunks
NOISE = 0.5  # norm of the noise added to a unit vector: cosine ≈ 1/sqrt(1 + NOISE²) ≈ 0.89
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
CACHE = Path("var/bench")


@dataclass(frozen=True)
class Base:
    """The texts the store's chunks are drawn from and their real embeddings."""

    event_texts: list[tuple[str, str, str]]  # (source, type, content)
    doc_texts: list[str]  # document paragraphs, one chunk each
    event_vectors: npt.NDArray[np.float32]
    doc_vectors: npt.NDArray[np.float32]


def base_texts(n_events: int, n_paragraphs: int, seed: int = 11) -> Base:
    """The texts only; `embed_base` adds their vectors."""
    rng = random.Random(seed)
    weights = [w for *_, w in EVENT_KINDS]
    events = []
    for _ in range(n_events):
        source, kind, pool, _w = rng.choices(EVENT_KINDS, weights=weights)[0]
        events.append((source, kind, corpus._fill(rng, rng.choice(pool)).replace("\n", " ")))
    paragraphs = [corpus.document(rng, paragraphs=1) for _ in range(n_paragraphs)]
    empty = np.empty((0, 0), dtype=np.float32)
    return Base(events, paragraphs, empty, empty)


def embed_base(base: Base, embedder: Embedder, seed: int = 11) -> tuple[Base, float]:
    """Embed each base text once under a header like the chunker's (cached in var/bench).

    Returns the base with vectors and the seconds spent embedding (0 when cached).
    """
    rng = random.Random(seed)
    day = timedelta(days=1)
    event_inputs = [
        header(Source("event", s, t, None, YEAR_START + rng.randrange(365) * day, c)) + " " + c
        for s, t, c in base.event_texts
    ]
    doc_inputs = [
        header(Source("document", "drive", "document", "notes", YEAR_START, p)) + " " + p
        for p in base.doc_texts
    ]
    digest = hashlib.sha256("\n".join([MINILM.hub_id, *event_inputs, *doc_inputs]).encode())
    path = CACHE / f"query-base-{digest.hexdigest()[:16]}.npy"
    seconds = 0.0
    if path.exists():
        vectors = np.load(path)
    else:
        t0 = time.perf_counter()
        vectors = embedder.embed(event_inputs + doc_inputs)
        seconds = time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    n = len(event_inputs)
    return Base(base.event_texts, base.doc_texts, vectors[:n], vectors[n:]), seconds


@dataclass
class Batch:
    items: list[tuple[object, ...]]
    chunks: list[tuple[object, ...]]
    points: list[Point]


ITEM_COLUMNS = (
    "id, org_id, user_pk, kind, external_id, source, type, title, ts, content, "
    "content_hash, metadata, job_id, state"
)


class Filler:
    """Generates users' items, chunk rows and points, deterministically for a seed."""

    def __init__(
        self, base: Base, org_id: int, target: Target, seed: int = 5, with_context: bool = False
    ):
        self.base = base
        self.org_id = org_id
        self.target = target
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.with_context = with_context
        self.next_item = 1
        self.next_chunk = 1

    def user_batch(self, user_pks: list[int], chunks_per_user: int) -> Batch:
        batch = Batch([], [], [])
        picks: list[tuple[str, int]] = []  # which base vector each point copies
        for user_pk in user_pks:
            made = 0
            serial = 0
            while made < chunks_per_user:
                serial += 1
                ts = YEAR_START + timedelta(seconds=self.rng.randrange(365 * 86400))
                if self.rng.random() < DOC_PROBABILITY and chunks_per_user - made >= 3:
                    n = min(self.rng.randint(3, 8), chunks_per_user - made)
                    which = [self.rng.randrange(len(self.base.doc_texts)) for _ in range(n)]
                    parts = [self.base.doc_texts[i] for i in which]
                    title = f"{self.rng.choice(corpus.TOPICS)} notes"
                    src = Source("document", "drive", "document", title, ts, "\n\n".join(parts))
                    self._item(batch, user_pk, f"doc_{user_pk}_{serial}", src, parts)
                    picks += [("doc", i) for i in which]
                else:
                    i = self.rng.randrange(len(self.base.event_texts))
                    source, kind, content = self.base.event_texts[i]
                    src = Source("event", source, kind, None, ts, content)
                    self._item(batch, user_pk, f"evt_{user_pk}_{serial}", src, [content])
                    picks.append(("event", i))
                    n = 1
                made += n
        vectors = self._perturbed(picks)
        batch.points = [
            Point(p.id, vectors[k], p.payload, p.terms) for k, p in enumerate(batch.points)
        ]
        return batch

    def _item(
        self, batch: Batch, user_pk: int, external_id: str, src: Source, parts: list[str]
    ) -> None:
        item_id = self.next_item
        self.next_item += 1
        digest = hashlib.sha256(src.content.encode()).hexdigest()
        batch.items.append(
            (
                *(item_id, self.org_id, user_pk, src.kind, external_id, src.source, src.type),
                *(src.title, src.ts, src.content, digest, "{}", "bench", "indexed"),
            )
        )
        context = header(src)
        payload = {
            "tenant": tenant_key(self.org_id, user_pk),
            "org": self.org_id,
            "kind": src.kind,
            "external_id": external_id,
            "source": src.source,
            "type": src.type,
            "ts": int(src.ts.timestamp()) if src.ts else None,
            "at": src.ts.isoformat() if src.ts else None,
            "context": context,
        }
        terms = self.target.terms
        for ordinal, part in enumerate(parts):
            pid = chunk_point_id(self.org_id, user_pk, src.kind, external_id, ordinal)
            tokens = len(part.split()) * 4 // 3 + 12  # the model's count is not needed here
            row: tuple[object, ...] = (
                *(self.next_chunk, item_id, user_pk, ordinal, part, tokens, MINILM.hub_id),
                uuid.UUID(pid),
                self.target.generation.id,
            )
            batch.chunks.append((*row, context) if self.with_context else row)
            self.next_chunk += 1
            shown = {**payload, "item_id": item_id, "ordinal": ordinal, "text": part}
            words = terms.document(f"{context} {part}") if terms else None
            batch.points.append(Point(pid, (), shown, words))

    def _perturbed(self, picks: list[tuple[str, int]]) -> npt.NDArray[np.float32]:
        rows = np.stack(
            [
                self.base.doc_vectors[i] if kind == "doc" else self.base.event_vectors[i]
                for kind, i in picks
            ]
        )
        dim = rows.shape[1]
        noise = self.np_rng.standard_normal(rows.shape, dtype=np.float32)
        rows += noise * np.float32(NOISE / np.sqrt(dim))
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows


def has_context_column(engine: Engine) -> bool:
    """True once the lexical-search migration has added `chunks.context`."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT 1 FROM information_schema.columns "
                    "WHERE table_name = 'chunks' AND column_name = 'context'"
                )
            ).first()
        )


def make_users(engine: Engine, org_name: str, n_users: int) -> tuple[int, list[int]]:
    """The organization of the bootstrap key and `n_users` users in it: (org id, user pks)."""
    with session_scope(engine) as session:
        org_id = keys.ensure_org(session, org_name)
        rows = [
            {"org_id": org_id, "user_id": user_name(i), "traits": {}, "status": "active"}
            for i in range(n_users)
        ]
        pks = list(session.execute(insert(User).returning(User.id), rows).scalars())
    return org_id, pks


def user_name(i: int) -> str:
    return f"bench_user_{i:04d}"


def batches(user_pks: list[int], per_batch_users: int) -> Iterator[list[int]]:
    for start in range(0, len(user_pks), per_batch_users):
        yield user_pks[start : start + per_batch_users]


@dataclass
class FillReport:
    chunks: int
    items: int
    postgres_s: float
    index_s: float
    generate_s: float
    analyze_s: float

    @property
    def total_s(self) -> float:
        return self.postgres_s + self.index_s + self.generate_s + self.analyze_s


def fill(
    engine: Engine,
    target: Target,
    base: Base,
    org_id: int,
    user_pks: list[int],
    total_chunks: int,
    *,
    batch_chunks: int = 20_000,
) -> FillReport:
    """`total_chunks` chunks spread evenly over `user_pks` in `target`'s generation: rows by
    COPY, points by upsert (with their terms where the generation keeps them)."""
    with_context = has_context_column(engine)
    filler = Filler(base, org_id, target, with_context=with_context)
    index = target.index
    per_user = max(1, total_chunks // len(user_pks))
    group = max(1, batch_chunks // per_user)
    chunk_columns = (
        "id, item_id, user_pk, ordinal, text, token_count, model, point_id, generation_id"
    )
    if with_context:
        chunk_columns += ", context"
    gen_s = pg_s = idx_s = 0.0
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        for pks in batches(user_pks, group):
            t0 = time.perf_counter()
            batch = filler.user_batch(pks, per_user)
            t1 = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy(f"COPY items ({ITEM_COLUMNS}) FROM STDIN") as copy:
                    for row in batch.items:
                        copy.write_row(row)
                with cur.copy(f"COPY chunks ({chunk_columns}) FROM STDIN") as copy:
                    for row in batch.chunks:
                        copy.write_row(row)
            conn.commit()
            t2 = time.perf_counter()
            index.upsert(batch.points)
            t3 = time.perf_counter()
            gen_s += t1 - t0
            pg_s += t2 - t1
            idx_s += t3 - t2
        t4 = time.perf_counter()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('items', 'id'), %s)", [filler.next_item]
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('chunks', 'id'), %s)", [filler.next_chunk]
            )
            cur.execute("VACUUM ANALYZE items")
            cur.execute("VACUUM ANALYZE chunks")
            # No CHECKPOINT: the application's role is no superuser (nor pg_checkpoint).
        analyze_s = time.perf_counter() - t4
    finally:
        raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        raw.close()
    return FillReport(filler.next_chunk - 1, filler.next_item - 1, pg_s, idx_s, gen_s, analyze_s)

"""The most salient non-redundant facts of a user for a purpose, picked without an LLM.

Candidates are the user's chunks nearest to each of the purpose's query phrases
(the vector index) plus their most recent chunks (Postgres), within the
freshness window, all of the active index generation. Each chunk's vector is
read back from the index, so every score below is computed here, in float64,
from stored data only:

- relevance: the best cosine of the chunk to any query phrase of the purpose;
- keywords: whether the sentence uses the purpose's words;
- recency: the chunk's rank by event time among the candidates (a rank, not an
  age, so a summary does not drift with the clock);
- support: how many other events say nearly the same thing (cosine >= 0.8).

Chunks are split into sentences (at most two per chunk: the ones that best use
the purpose's words), scores are rounded, and the ranking breaks every tie on
the sentence's text, so the same data always gives the same list. Selection is
greedy by score and skips near-duplicates (a vector as close as a supporting one,
or mostly the same words), which is also how overlapping document chunks count once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select

from pipeline import generations
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item
from pipeline.generations import Generation
from pipeline.runtime import Runtime
from pipeline.summaries import writing
from pipeline.summaries.purposes import KEYWORD_RATIO, Purpose, keyword_hits
from pipeline.vectors import SearchFilter, tenant_key

SUPPORT_COSINE = 0.8  # another event saying nearly the same thing
# A chosen fact speaks for the events that say nearly the same thing (its support):
# they are not repeated, which also keeps one instance of a template filled many times.
DUPLICATE_COSINE = SUPPORT_COSINE
SENTENCES_PER_CHUNK = 2
BUDGET_CHARS = 6000  # facts enough for the largest summary (5,000 chars) whatever is cut

W_KEYWORDS = 0.15
W_RECENCY = 0.08
W_SUPPORT = 0.1
SUPPORT_CAP = 3
LATER_SENTENCE_PENALTY = 0.02


@dataclass(frozen=True)
class Fact:
    text: str
    score: float
    relevance: float
    support: int
    ts: datetime | None


@dataclass(frozen=True)
class _Candidate:
    point_id: str
    text: str
    item_id: int
    ts: datetime | None


def _candidates(
    runtime: Runtime,
    generation: Generation,
    org_id: int,
    user_pk: int,
    queries: np.ndarray,
    since: datetime | None,
    per_query: int,
) -> list[_Candidate]:
    flt = SearchFilter(
        tenant=tenant_key(org_id, user_pk),
        since_ts=int(since.timestamp()) if since is not None else None,
    )
    ids: set[str] = set()
    index = runtime.index(generation)
    for vector in queries:
        ids.update(hit.id for hit in index.search(vector, flt, limit=per_query))
    recent = (
        select(Chunk.point_id)
        .join(Item, Item.id == Chunk.item_id)
        .where(
            Chunk.user_pk == user_pk,
            Chunk.generation_id == generation.id,
            Item.ts.is_not(None),
        )
        .order_by(Item.ts.desc(), Chunk.id.desc())
        .limit(per_query)
    )
    if since is not None:
        recent = recent.where(Item.ts >= since)
    with session_scope(runtime.engine) as session:
        ids.update(str(p) for p in session.execute(recent).scalars())
        if not ids:
            return []
        rows = session.execute(
            select(Chunk.point_id, Chunk.text, Chunk.item_id, Item.ts)
            .join(Item, Item.id == Chunk.item_id)
            .where(
                Chunk.point_id.in_([uuid.UUID(i) for i in ids]),
                Chunk.user_pk == user_pk,
                Chunk.generation_id == generation.id,
            )
        ).all()
    found = [_Candidate(str(r.point_id), r.text, r.item_id, r.ts) for r in rows]
    if since is not None:  # the index filter keeps undated points out; so does this
        found = [c for c in found if c.ts is not None and c.ts >= since]
    return sorted(found, key=lambda c: c.point_id)


def _recency(candidates: list[_Candidate]) -> list[float]:
    """0 for the oldest (or undated) candidate up to 1 for the newest, by rank of time."""
    times = sorted({c.ts for c in candidates if c.ts is not None})
    if not times:
        return [0.0] * len(candidates)
    rank = {t: i for i, t in enumerate(times)}
    top = max(len(times) - 1, 1)
    return [rank[c.ts] / top if c.ts is not None else 0.0 for c in candidates]


def select_facts(
    runtime: Runtime,
    org_id: int,
    user_pk: int,
    purpose: Purpose,
    since: datetime | None,
    per_query: int,
    avoid: list[str] | None = None,
) -> list[Fact]:
    """Facts for `purpose`, most salient first, up to about `BUDGET_CHARS` of text.

    `avoid` are sentences already said (the traits): a fact repeating one is skipped.
    """
    with session_scope(runtime.engine) as session:
        generation = generations.active(session)
    if generation is None:
        return []
    model = generation.model
    queries = np.stack([runtime.embed_query(q, model) for q in purpose.queries]).astype(np.float64)
    candidates = _candidates(runtime, generation, org_id, user_pk, queries, since, per_query)
    index = runtime.index(generation)
    points = {p.id: p for p in index.retrieve([c.point_id for c in candidates])}
    candidates = [c for c in candidates if c.point_id in points]
    if not candidates:
        return []
    vectors = np.array([points[c.point_id].vector for c in candidates], dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    relevance = np.round((vectors @ queries.T / np.linalg.norm(queries, axis=1)).max(axis=1), 4)
    similar = np.round(vectors @ vectors.T, 4)
    recency = _recency(candidates)
    best = float(relevance.max())
    floor = max(purpose.min_relevance, purpose.keep_ratio * best)
    keyword_floor = max(purpose.min_relevance / 2, KEYWORD_RATIO * best)

    ranked: list[tuple[float, str, int, Fact]] = []
    for i, cand in enumerate(candidates):
        items = {candidates[j].item_id for j in np.flatnonzero(similar[i] >= SUPPORT_COSINE)}
        support = len(items - {cand.item_id})
        sentences = [
            (keyword_hits(purpose, line), position, line)
            for position, s in enumerate(writing.split_sentences(cand.text))
            if (line := writing.as_fact(s)) is not None
        ]
        sentences.sort(key=lambda s: (-min(s[0], 2), s[1]))
        for hits, position, text in sentences[:SENTENCES_PER_CHUNK]:
            rel = float(relevance[i])
            if rel < (keyword_floor if hits else floor):
                continue
            score = (
                rel
                + W_KEYWORDS * min(hits, 2) / 2
                + W_RECENCY * recency[i]
                + W_SUPPORT * min(support, SUPPORT_CAP) / SUPPORT_CAP
                - (LATER_SENTENCE_PENALTY if position else 0.0)
            )
            ranked.append(
                (round(score, 6), text, i, Fact(text, round(score, 6), rel, support, cand.ts))
            )
    ranked.sort(key=lambda r: (-r[0], r[1]))

    said = [writing.words_of(s) for s in avoid or []]
    chosen: list[Fact] = []
    chosen_rows: list[int] = []
    used = 0
    for _, text, row, fact in ranked:
        words = writing.words_of(text)
        if any(writing.near_duplicate(words, w) for w in said):
            continue
        if any(similar[row, r] >= DUPLICATE_COSINE and row != r for r in chosen_rows):
            continue
        chosen.append(fact)
        chosen_rows.append(row)
        said.append(words)
        used += len(text) + 1
        if used >= BUDGET_CHARS:
            break
    return chosen

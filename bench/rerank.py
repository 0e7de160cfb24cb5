"""Second stages over first-stage scores, for `bench.eval`: a re-rank and fusions.

Both take one score per chunk of a user (higher is better) and return the same, with
-inf for a chunk they cannot return, so `bench.eval.rank_by` ranks them like any
method. Both look only at the top DEPTH chunks of their inputs, as a system would that
asks its index for DEPTH candidates and works on those.
"""

from __future__ import annotations

import numpy as np

from pipeline.retrieval import search

DEPTH = 50
"""Candidates a second stage sees from each first stage."""


def top(scores: np.ndarray) -> np.ndarray:
    """The DEPTH best chunks; equal scores keep corpus order, as `rank_by` does."""
    return np.argsort(-scores, kind="stable")[:DEPTH]


def rerank(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """`second`'s scores on `first`'s top DEPTH: what the first stage missed stays
    missed, however well the second would have scored it."""
    scores, keep = np.full(len(first), -np.inf), top(first)
    scores[keep] = second[keep]
    return scores


def minmax(x: np.ndarray) -> np.ndarray:
    """Onto [0, 1]; all zeros when every score is equal (a query BM25 has no term of)."""
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def fuse(lexical: np.ndarray, dense: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Convex fusion over the union of each one's top DEPTH: `weight` times the lexical
    score plus the rest times the dense one. BM25 and cosine live on different scales,
    so each is min-max normalised over that union first."""
    union = np.union1d(top(lexical), top(dense))
    scores = np.full(len(lexical), -np.inf)
    scores[union] = weight * minmax(lexical[union]) + (1 - weight) * minmax(dense[union])
    return scores


def shipped(lexical: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """The system's own fusion (`pipeline.retrieval.search.fuse`, its share of each side
    set per query by `lexical_weight`) on the same candidates: each side's top DEPTH,
    BM25 where it found a term."""
    by_meaning = [(f"{i:09d}", float(dense[i])) for i in top(dense)]
    by_words = [(f"{i:09d}", float(lexical[i])) for i in top(lexical) if lexical[i] > 0]
    weight = search.lexical_weight([s for _, s in by_meaning], [s for _, s in by_words])
    scores = np.full(len(lexical), -np.inf)
    for pid, score in search.fuse(by_meaning, by_words, weight):
        scores[int(pid)] = score
    return scores


def _matched(scores: np.ndarray) -> np.ndarray:
    """The top DEPTH that the retriever actually returned (a lexical list holds only
    chunks with a query term)."""
    best = top(scores)
    return best[np.isfinite(scores[best]) & (scores[best] > 0)]


def dbsf(lexical: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """Qdrant's distribution-based score fusion (`Fusion.Dbsf`), emulated: each list's
    scores mapped from [mean - 3 sd, mean + 3 sd] onto [0, 1], then summed."""
    scores = np.full(len(lexical), -np.inf)
    for side in (lexical, dense):
        found = _matched(side) if side is lexical else top(side)
        if len(found) == 0:
            continue
        mean, sd = side[found].mean(), side[found].std()
        low, high = mean - 3 * sd, mean + 3 * sd
        part = (side[found] - low) / (high - low) if high > low else np.full(len(found), 0.5)
        scores[found] = np.where(np.isfinite(scores[found]), scores[found], 0.0) + part
    return scores


def rrf(lexical: np.ndarray, dense: np.ndarray, k: int = 2) -> np.ndarray:
    """Qdrant's reciprocal rank fusion (`Fusion.Rrf`, its default k = 2), emulated."""
    scores = np.full(len(lexical), -np.inf)
    for found in (_matched(lexical), top(dense)):
        ranks = 1.0 / (k + 1 + np.arange(len(found)))
        scores[found] = np.where(np.isfinite(scores[found]), scores[found], 0.0) + ranks
    return scores

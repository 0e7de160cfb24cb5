"""Second stages over first-stage scores, for `bench.eval`: a re-rank and a fusion.

Both take one score per chunk of a user (higher is better) and return the same, with
-inf for a chunk they cannot return, so `bench.eval.rank_by` ranks them like any
method. Both look only at the top DEPTH chunks of their inputs, as a system would that
asks its index for DEPTH candidates and works on those.
"""

from __future__ import annotations

import numpy as np

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


def fuse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal-weight convex fusion over the union of each one's top DEPTH. BM25 and cosine
    live on different scales, so each is min-max normalised over that union first."""
    union = np.union1d(top(a), top(b))
    scores = np.full(len(a), -np.inf)
    scores[union] = 0.5 * minmax(a[union]) + 0.5 * minmax(b[union])
    return scores

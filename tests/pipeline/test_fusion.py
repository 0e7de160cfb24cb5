"""Reciprocal rank fusion, the ranking logic that /chunks and /query share."""

from __future__ import annotations

from pipeline.retrieval import RRF_K, fuse


def test_found_by_both_beats_first_of_one() -> None:
    dense = [("a", 0.9), ("b", 0.8)]
    lexical = [("c", 7.0), ("b", 5.0)]
    assert fuse(dense, lexical)[0][0] == "b"


def test_scores_are_reciprocal_ranks_summed() -> None:
    (only,) = fuse([("x", 0.5)], [("x", 3.0)])
    assert only == ("x", 2 / (RRF_K + 1))


def test_equal_scores_share_a_rank_and_ties_go_to_the_smaller_id() -> None:
    fused = fuse([("d", 0.7), ("b", 0.7), ("c", 0.5)])
    assert fused == [("b", 1 / (RRF_K + 1)), ("d", 1 / (RRF_K + 1)), ("c", 1 / (RRF_K + 3))]


def test_nothing_found_is_empty() -> None:
    assert fuse([], []) == []

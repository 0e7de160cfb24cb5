"""Fusing dense and lexical candidates, the ranking that /chunks and /query share."""

from __future__ import annotations

import pytest

from pipeline.retrieval.search import LEXICAL_WEIGHT, fuse


def test_the_lexical_side_lifts_a_close_dense_second() -> None:
    dense = [("a", 0.62), ("b", 0.60), ("z", 0.20)]
    lexical = [("b", 9.0), ("c", 3.0)]
    assert [pid for pid, _ in fuse(dense, lexical)] == ["b", "a", "c", "z"]


def test_a_strong_cosine_is_not_swamped_by_a_lexical_match() -> None:
    dense = [("a", 0.80), ("b", 0.40)]
    lexical = [("b", 50.0)]
    assert fuse(dense, lexical)[0][0] == "a"


def test_scores_mix_each_sides_min_max_normalised_scores() -> None:
    fused = dict(fuse([("a", 0.5), ("b", 0.3)], [("a", 4.0), ("c", 2.0)]))
    assert fused["a"] == pytest.approx(1.0)  # the best of both
    assert fused["b"] == pytest.approx(0.0)  # the lowest cosine and no query term
    # Not in the dense list: its cosine is at most the list's lowest.
    assert fused["c"] == pytest.approx(LEXICAL_WEIGHT / 2)


def test_equal_evidence_scores_alike_and_ties_go_to_the_smaller_id() -> None:
    fused = fuse([("d", 0.7), ("b", 0.7), ("c", 0.5)], [])
    assert [pid for pid, _ in fused] == ["b", "d", "c"]
    assert fused[0][1] == fused[1][1] > fused[2][1]


def test_nothing_found_is_empty() -> None:
    assert fuse([], []) == []


def test_a_lone_candidate_scores_as_the_best_there_is() -> None:
    assert fuse([("a", 0.4)], [("a", 2.0)]) == [("a", 1.0)]
    assert fuse([("a", 0.4)], []) == [("a", pytest.approx(1 - LEXICAL_WEIGHT))]

"""Fusing dense and lexical candidates, the ranking that /chunks and /query share."""

from __future__ import annotations

import pytest

from pipeline.retrieval.search import HEAD, MAX_LEXICAL_WEIGHT, fuse, lexical_weight

W = 0.3  # a lexical share, as `lexical_weight` may give


def test_the_lexical_side_lifts_a_close_dense_second() -> None:
    dense = [("a", 0.62), ("b", 0.60), ("z", 0.20)]
    lexical = [("b", 9.0), ("c", 3.0)]
    assert [pid for pid, _ in fuse(dense, lexical, W)] == ["b", "a", "c", "z"]


def test_a_strong_cosine_is_not_swamped_by_a_lexical_match() -> None:
    dense = [("a", 0.80), ("b", 0.40)]
    lexical = [("b", 50.0)]
    assert fuse(dense, lexical, W)[0][0] == "a"


def test_scores_mix_each_sides_min_max_normalised_scores() -> None:
    fused = dict(fuse([("a", 0.5), ("b", 0.3)], [("a", 4.0), ("c", 2.0)], W))
    assert fused["a"] == pytest.approx(1.0)  # the best of both
    assert fused["b"] == pytest.approx(0.0)  # the lowest cosine and no query term
    # Not in the dense list: its cosine is at most the list's lowest.
    assert fused["c"] == pytest.approx(W / 2)


def test_equal_evidence_scores_alike_and_ties_go_to_the_smaller_id() -> None:
    fused = fuse([("d", 0.7), ("b", 0.7), ("c", 0.5)], [], W)
    assert [pid for pid, _ in fused] == ["b", "d", "c"]
    assert fused[0][1] == fused[1][1] > fused[2][1]


def test_nothing_found_is_empty() -> None:
    assert fuse([], [], W) == []


def test_a_lone_candidate_scores_as_the_best_there_is() -> None:
    assert fuse([("a", 0.4)], [("a", 2.0)], W) == [("a", 1.0)]
    assert fuse([("a", 0.4)], [], W) == [("a", pytest.approx(1 - W))]


FLAT_DENSE = [0.50 - 0.002 * n for n in range(50)]  # a question of taste: no clear best


def test_words_get_most_say_when_their_best_stands_out_and_the_meanings_do_not() -> None:
    rare_name = [9.0] + [1.0] * 20  # one chunk holds the rare word
    assert lexical_weight(FLAT_DENSE, rare_name) > 0.6 * MAX_LEXICAL_WEIGHT


def test_words_get_little_say_when_they_only_matched_common_ones() -> None:
    clear_dense = [0.80] + [0.40 - 0.001 * n for n in range(49)]
    common_words = [2.0 - 0.01 * n for n in range(30)]
    assert lexical_weight(clear_dense, common_words) < 0.4 * MAX_LEXICAL_WEIGHT
    assert lexical_weight(clear_dense, common_words) < lexical_weight(FLAT_DENSE, common_words)


def test_no_word_matched_gives_words_no_say_and_a_lone_match_stands_out() -> None:
    assert lexical_weight(FLAT_DENSE, []) == 0.0
    lone = lexical_weight(FLAT_DENSE, [3.0])
    as_far_as_a_best_can = lexical_weight(FLAT_DENSE, [9.0] + [1.0] * (HEAD - 1))
    assert lone == pytest.approx(as_far_as_a_best_can)

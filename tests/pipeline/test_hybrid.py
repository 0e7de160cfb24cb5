"""Hybrid search inside the index: dense vectors and BM25 terms in the same points,
searched in one call, on both implementations (as in test_vectors: "server" is
qdrant-client's local mode standing in for a Qdrant server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.models import BM25_LEXICAL
from pipeline.vectors import Point, SearchFilter, VectorIndex
from pipeline.vectors.edge import EdgeIndex
from pipeline.vectors.server import ServerIndex
from pipeline.vectors.terms import TermEncoder

DIM = 8
TERMS = TermEncoder(BM25_LEXICAL)


@pytest.fixture(params=["edge", "server"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    idx: VectorIndex = (
        EdgeIndex(tmp_path / "shard", DIM, lexical=True)
        if request.param == "edge"
        else ServerIndex(":memory:", DIM, lexical=True)
    )
    yield idx
    idx.close()


def vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def put(index: VectorIndex, tenant: str, texts: list[str], source: str = "chat") -> list[str]:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{t}/{source}")) for t in texts]
    index.upsert(
        Point(i, vector(n), {"tenant": tenant, "source": source, "text": t}, TERMS.document(t))
        for n, (i, t) in enumerate(zip(ids, texts, strict=True))
    )
    return ids


FILLER = [f"we talked about the weather on day {n}" for n in range(8)]


def test_words_find_the_chunk_that_holds_them_and_only_such_chunks(index: VectorIndex) -> None:
    ids = put(index, "1:1", [*FILLER, "my dentist Dr. Okafor moved to Friday"])
    query = TERMS.query("when is Okafor?")
    dense, lexical = index.hybrid(vector(99), query, SearchFilter("1:1"), 5)
    assert [h.id for h in lexical] == [ids[-1]]  # the only chunk with a query term
    assert index.payloads([lexical[0].id])[ids[-1]]["text"].startswith("my dentist")
    assert len(dense) == 5  # the dense half ranks every chunk, as before


def test_every_lexical_find_knows_its_cosine_whether_or_not_the_dense_half_found_it(
    index: VectorIndex,
) -> None:
    texts = [*FILLER, "pizza with olives", "pizza on Monday"]
    ids = put(index, "1:1", texts)
    query = vector(1)  # FILLER[1]'s own vector: the dense half's first find
    dense, lexical = index.hybrid(query, TERMS.query("pizza"), SearchFilter("1:1"), 2)
    assert {h.id for h in lexical} == set(ids[-2:])
    assert not {h.id for h in lexical} & {h.id for h in dense}  # both outside the dense top 2
    for hit in lexical:
        own = vector(ids.index(hit.id))
        assert hit.cosine == pytest.approx(float(own @ query), abs=1e-4)


def test_words_that_tie_past_the_first_read_are_cut_by_id(index: VectorIndex) -> None:
    same = [f"pizza night {n}" for n in range(20)]  # one term each, equal lengths: one score
    ids = put(index, "1:1", [*FILLER, *same])[len(FILLER) :]
    _, lexical = index.hybrid(vector(0), TERMS.query("pizza"), SearchFilter("1:1"), 3)
    assert [h.id for h in lexical] == sorted(ids)[:3]  # a run of 20 ties, longer than a read
    assert all(h.cosine is not None for h in lexical)


def test_a_users_scores_use_that_users_statistics_alone(index: VectorIndex) -> None:
    put(index, "1:2", [*FILLER, "pizza with olives"])
    query = TERMS.query("pizza")
    before = index.hybrid(vector(1), query, SearchFilter("1:2"), 3)[1]
    put(index, "1:1", [f"pizza night number {n}" for n in range(30)])  # another user's pizza
    after = index.hybrid(vector(1), query, SearchFilter("1:2"), 3)[1]
    assert [h.id for h in after] == [h.id for h in before]
    assert after[0].score == pytest.approx(before[0].score)
    mine = index.hybrid(vector(1), query, SearchFilter("1:1"), 3)[1]
    assert mine[0].score < after[0].score  # a word everywhere in a user's chunks says little


def test_filters_apply_to_both_halves(index: VectorIndex) -> None:
    put(index, "1:1", ["pizza on Monday"], source="chat")
    email = put(index, "1:1", ["pizza order confirmed"], source="email")
    only_email = SearchFilter("1:1", sources=["email"])
    dense, lexical = index.hybrid(vector(3), TERMS.query("pizza"), only_email, 5)
    assert [h.id for h in dense] == email
    assert [h.id for h in lexical] == email


def test_a_query_of_stopwords_alone_matches_no_words(index: VectorIndex) -> None:
    put(index, "1:1", FILLER)
    dense, lexical = index.hybrid(vector(4), TERMS.query("what is it"), SearchFilter("1:1"), 3)
    assert len(dense) == 3
    assert lexical == []


def test_every_point_of_a_collection_that_matches_words_needs_its_terms(
    index: VectorIndex,
) -> None:
    with pytest.raises(ValueError, match="needs its terms"):
        index.upsert([Point(str(uuid.uuid4()), vector(5), {"tenant": "1:1"})])


def test_a_collection_without_terms_cannot_search_by_words(tmp_path: Path) -> None:
    with (
        EdgeIndex(tmp_path / "plain", DIM) as plain,
        pytest.raises(ValueError, match="without lexical terms"),
    ):
        plain.hybrid(vector(6), TERMS.query("pizza"), SearchFilter("1:1"), 3)

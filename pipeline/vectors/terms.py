"""A chunk's words as the index matches them: Qdrant's BM25 terms, as a sparse vector.

A generation built with the `bm25` lexical matcher (`pipeline.models.LexicalSpec`)
stores in each point, beside its dense vector, the terms of the text the model
embedded (the chunk under its date and source header, so a question about when or
where has words to match): English-tokenized, stopwords dropped, Snowball-stemmed,
each with BM25's saturated term frequency, normalised by a fixed typical length. The
query is its terms with weight 1. Qdrant multiplies in each term's IDF at search time
(the collection's IDF modifier), computed over the points the search's filter keeps,
so a user's scores use that user's own statistics, as BM25 in PostgreSQL did.

`qdrant_edge.Bm25` computes the weights in this process for both shapes (a Qdrant
server stores and searches them the same way): the encoder is Qdrant's own, so terms
written by a worker and a query encoded by another always agree.
"""

from __future__ import annotations

import qdrant_edge as qe

from pipeline.models import LexicalSpec
from pipeline.vectors.base import Terms


class TermEncoder:
    """The terms of a document or a query, under one lexical spec. Thread-safe: the
    model is immutable once built."""

    def __init__(self, spec: LexicalSpec) -> None:
        assert spec.in_index, f"{spec.name} matches words outside the index"
        self.spec = spec
        self._model = qe.Bm25(qe.Bm25Config(avg_len=spec.avg_len, language="english"))

    def document(self, text: str) -> Terms:
        return _terms(self._model.embed_document(text))

    def query(self, text: str) -> Terms:
        return _terms(self._model.embed_query(text))


def _terms(vector: qe.SparseVector) -> Terms:
    return Terms(list(vector.indices), list(vector.values))

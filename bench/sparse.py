"""Lexical ranking inside the index, for `bench.eval --sparse`: Qdrant's own BM25.

Each chunk is stored in a throwaway Qdrant Edge shard as a sparse vector of its term
weights (`qdrant_edge.Bm25.embed_document`: tokenized, English stopwords and stemmer,
BM25's saturated term frequency with a fixed mean length), under the IDF modifier;
a question is the sparse vector of its terms, and its IDF is that of its user's
chunks alone (`IdfParams(corpus=<the user's filter>)`). That is the lexical half a
hybrid search inside the index would run, measured on the same chunks as bm25s (exact
BM25 with each user's own mean length) so the two compare.
"""

from __future__ import annotations

import tempfile

import numpy as np
import qdrant_edge as qe

from bench.rerank import DEPTH

Corpus = dict[str, list[tuple[str, str]]]
LEXICAL = "lexical"


def _user(user: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition("user", match=qe.MatchValue(user))])


def edge_bm25(corpus: Corpus, questions: list[dict], avg_len: float) -> list[np.ndarray]:
    """Per question, the score of each of its user's chunks (-inf beyond the top DEPTH)."""
    model = qe.Bm25(qe.Bm25Config(avg_len=avg_len, language="english"))
    with tempfile.TemporaryDirectory() as folder:
        config = qe.EdgeConfig(
            vectors={},
            sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            wal_enabled=False,
        )
        shard = qe.EdgeShard.create(folder, config)
        shard.update(
            qe.UpdateOperation.create_field_index("user", qe.KeywordIndexParams(is_tenant=True))
        )
        base: dict[str, int] = {}
        next_id = 0
        for user, rows in corpus.items():
            base[user] = next_id
            points = [
                qe.Point(next_id + i, {LEXICAL: model.embed_document(t)}, {"user": user})
                for i, (_, t) in enumerate(rows)
            ]
            shard.update(qe.UpdateOperation.upsert_points(points))
            next_id += len(rows)
        out = []
        for q in questions:
            user = q["user_id"]
            scores = np.full(len(corpus[user]), -np.inf)
            request = qe.QueryRequest(
                limit=DEPTH,
                query=qe.Query.Nearest(model.embed_query(q["question"]), using=LEXICAL),
                filter=_user(user),
                params=qe.SearchParams(idf=qe.IdfParams(corpus=_user(user))),
            )
            for hit in shard.query(request):
                scores[int(str(hit.id)) - base[user]] = hit.score
            out.append(scores)
        shard.close()
    return out

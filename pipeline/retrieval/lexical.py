"""The lexical side of retrieval: BM25 over the user's chunk rows in PostgreSQL.

It finds what a small embedding model blurs: names, codes, rare words, dates.
The statistics (chunk count, mean length, document frequency) are those of the
user's own chunks under the request's filters, so the scores are exact for the
user. Each chunk row's `search` column (a generated tsvector of its header and
text) is what is matched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from pipeline.schemas import ChunksRequest

# BM25 (k1 = 1.2, b = 0.75) over the user's chunks, with the statistics (chunk count,
# mean length, document frequency) of those chunks, so they are exact for the user
# (under the filters). The user's rows are read first (MATERIALIZED) and scored there: a
# GIN index over every user's vectors made the planner fetch every user's matches, 31 of
# 38 ms at a million chunks (bench-query), where a user's own thousand rows take about 3.
# `setweight` marks the query's lexemes in each vector and `ts_filter` keeps only them,
# so a chunk yields its matching lexemes alone rather than all of them to be sifted
# (half the time at a million chunks); the arithmetic is float8, not numeric, for the same
# reason.
_BM25 = """
WITH q AS (
    SELECT array_agg(DISTINCT lex) AS lexes
    FROM unnest(tsvector_to_array(to_tsvector('english', :query))) AS lex
),
mine AS MATERIALIZED (
    SELECT c.point_id, c.search
    FROM chunks c {join}
    WHERE c.user_pk = :user_pk AND c.generation_id = :generation {filters}
),
tf AS (
    SELECT mine.point_id, t.lexeme,
           cardinality(t.positions)::float8 AS tf, length(mine.search)::float8 AS dl
    FROM q, mine
    CROSS JOIN LATERAL unnest(ts_filter(setweight(mine.search, 'A', q.lexes), '{{a}}')) AS t
),
df AS (SELECT lexeme, count(*)::float8 AS df FROM tf GROUP BY lexeme),
stats AS (
    SELECT count(*)::float8 AS n, greatest(avg(length(search))::float8, 1) AS avgdl FROM mine
)
SELECT tf.point_id,
       sum(ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
           * tf.tf * 2.2 / (tf.tf + 1.2 * (0.25 + 0.75 * tf.dl / stats.avgdl))) AS score
FROM tf JOIN df USING (lexeme) CROSS JOIN stats
GROUP BY tf.point_id
ORDER BY score DESC, tf.point_id
LIMIT :depth
"""


def rank(
    session: Session | Connection,
    user_pk: int,
    generation_id: int,
    request: ChunksRequest,
    since: datetime | None,
    depth: int,
) -> list[tuple[str, float]]:
    """(point id, BM25 score) of the user's best lexical matches in one generation, best
    first."""
    filters: list[str] = []
    params: dict[str, object] = {
        "query": request.query,
        "user_pk": user_pk,
        "generation": generation_id,
        "depth": depth,
    }
    if since is not None:
        filters.append("AND i.ts >= :since")
        params["since"] = since
    if request.sources:
        filters.append("AND i.source = ANY (:sources)")
        params["sources"] = request.sources
    if request.types:
        filters.append("AND i.type = ANY (:types)")
        params["types"] = request.types
    join = "JOIN items i ON i.id = c.item_id" if filters else ""
    sql = text(_BM25.format(join=join, filters=" ".join(filters)))
    return [(str(r.point_id), float(r.score)) for r in session.execute(sql, params)]

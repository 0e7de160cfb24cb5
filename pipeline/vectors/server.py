"""The vector index on a Qdrant server or cluster, through qdrant-client.

Used when `PERSONA_QDRANT_URL` is set: any number of worker processes, on any
number of machines, share one collection. Opening is idempotent (collection
and payload indexes are created if missing, checked if present), so every
worker may open it at start-up without coordination.

Transport failures and a server answering 5xx or 429 surface as `Retryable`,
which workers turn into a task retry; anything else is a bug and propagates.

Threads: the HTTP client (httpx) is safe to share between threads. The local
mode of qdrant-client (``":memory:"`` or a path, used by tests as a stand-in
for a server) is not, so calls are serialized with a lock in that mode only.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from qdrant_client.local.qdrant_local import QdrantLocal

from pipeline.errors import Retryable
from pipeline.vectors.base import (
    DENSE_VECTOR,
    LEXICAL_VECTOR,
    PAYLOAD_INDEXES,
    Hit,
    IndexKind,
    Point,
    SearchFilter,
    Terms,
    VectorIndex,
    as_vectors,
    batched,
    point_id,
    points_in_order,
    scored_hits,
)

UPSERT_BATCH = 256
SCROLL_PAGE = 1024


class ServerIndex(VectorIndex):
    """One collection on a Qdrant server (or qdrant-client's in-memory stand-in).

    `client` is a URL, ``":memory:"``, or an existing `QdrantClient`; a client
    passed in stays the caller's to close.
    """

    def __init__(
        self,
        client: QdrantClient | str,
        dim: int,
        collection: str = "chunks",
        *,
        lexical: bool = False,
        api_key: str | None = None,
        batch_size: int = UPSERT_BATCH,
    ) -> None:
        self._owns_client = not isinstance(client, QdrantClient)
        self.client = (
            QdrantClient(location=client, api_key=api_key) if isinstance(client, str) else client
        )
        self.dim = dim
        self.lexical = lexical
        self.collection = collection
        self._batch_size = batch_size
        self._local = isinstance(getattr(self.client, "_client", None), QdrantLocal)
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._local else contextlib.nullcontext()
        )
        with self._call():
            self._ensure_collection()

    # --- writes -------------------------------------------------------------

    def upsert(self, points: Iterable[Point]) -> None:
        """Batches of `UPSERT_BATCH`, each acknowledged only once applied (wait=True)."""
        items = list(points)
        for batch in batched(items, self._batch_size):
            vectors = as_vectors([p.vector for p in batch], self.dim)
            structs = [
                models.PointStruct(
                    id=point_id(p.id),
                    vector=_vectors(v, self._terms_of(p)),
                    payload=dict(p.payload),
                )
                for p, v in zip(batch, vectors, strict=True)
            ]
            with self._call():
                self.client.upsert(self.collection, points=structs, wait=True)

    def delete(self, ids: Iterable[str]) -> None:
        wanted: list[models.ExtendedPointId] = [point_id(i) for i in ids]
        if not wanted:
            return
        with self._call():
            self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=wanted), wait=True
            )

    def delete_tenant(self, tenant: str) -> None:
        selector = models.FilterSelector(filter=_filter(SearchFilter(tenant=tenant)))
        with self._call():
            self.client.delete(self.collection, points_selector=selector, wait=True)

    # --- reads --------------------------------------------------------------

    def count(self, tenant: str) -> int:
        with self._call():
            result = self.client.count(
                self.collection, count_filter=_filter(SearchFilter(tenant=tenant)), exact=True
            )
        return result.count

    def ids(self, tenant: str) -> set[str]:
        found: set[str] = set()
        offset: models.ExtendedPointId | None = None
        while True:
            with self._call():
                records, offset = self.client.scroll(
                    self.collection,
                    scroll_filter=_filter(SearchFilter(tenant=tenant)),
                    limit=SCROLL_PAGE,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                )
            found.update(str(r.id) for r in records)
            if offset is None:
                return found

    def retrieve(self, ids: Iterable[str]) -> list[Point]:
        wanted = [point_id(i) for i in ids]
        if not wanted:
            return []
        with self._call():
            records = self.client.retrieve(
                self.collection, ids=wanted, with_payload=True, with_vectors=True
            )
        return points_in_order(wanted, records)

    def payloads(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = [point_id(i) for i in ids]
        if not wanted:
            return {}
        with self._call():
            records = self.client.retrieve(
                self.collection, ids=wanted, with_payload=True, with_vectors=False
            )
        return {str(r.id): dict(r.payload or {}) for r in records}

    def _query(self, vector: list[float], flt: SearchFilter, limit: int) -> list[Hit]:
        with self._call():
            response = self.client.query_points(
                self.collection,
                query=vector,
                using=DENSE_VECTOR,
                query_filter=_filter(flt),
                limit=limit,
                with_payload=False,
            )
        return scored_hits(response.points)

    def _both(
        self, vector: list[float], terms: Terms, flt: SearchFilter, limit: int
    ) -> tuple[list[Hit], list[Hit]]:
        where = _filter(flt)
        dense = models.QueryRequest(
            query=vector, using=DENSE_VECTOR, filter=where, limit=limit, with_payload=False
        )
        with self._call():
            by_meaning, by_words = self.client.query_batch_points(
                self.collection, requests=[dense, _lexical(terms, where, limit)]
            )
        return scored_hits(by_meaning.points), scored_hits(by_words.points)

    def _words(self, terms: Terms, flt: SearchFilter, limit: int) -> list[Hit]:
        with self._call():
            (found,) = self.client.query_batch_points(
                self.collection, requests=[_lexical(terms, _filter(flt), limit)]
            )
        return scored_hits(found.points)

    def _cosines(self, vector: list[float], flt: SearchFilter, ids: list[str]) -> dict[str, float]:
        among = _filter(flt, among=[point_id(i) for i in ids])
        with self._call():
            response = self.client.query_points(
                self.collection,
                query=vector,
                using=DENSE_VECTOR,
                query_filter=among,
                limit=len(ids),
                with_payload=False,
            )
        return {h.id: h.score for h in scored_hits(response.points)}

    # --- lifetime -----------------------------------------------------------

    def drop(self) -> None:
        with self._call():
            self.client.delete_collection(self.collection)
        self.close()

    def alias(self, name: str) -> None:
        """Point the alias `name` at this collection, atomically: what operators and
        tools outside Persona read as "the active collection"."""
        create = models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=self.collection, alias_name=name)
        )
        with self._call():
            existing = {a.alias_name for a in self.client.get_aliases().aliases}
            operations: list[models.AliasOperations] = (
                [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=name))]
                if name in existing
                else []
            )
            self.client.update_collection_aliases(change_aliases_operations=[*operations, create])

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    # --- internals ----------------------------------------------------------

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        """Serialize in local mode; turn transient server failures into `Retryable`."""
        try:
            with self._serial:
                yield
        except (ResponseHandlingException, ResourceExhaustedResponse) as exc:
            raise Retryable(f"Qdrant did not answer: {exc}") from exc
        except UnexpectedResponse as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                raise Retryable(f"Qdrant answered {exc.status_code}: {exc}") from exc
            raise

    def _ensure_collection(self) -> None:
        if not self.client.collection_exists(self.collection):
            try:
                self.client.create_collection(
                    self.collection,
                    vectors_config={
                        DENSE_VECTOR: models.VectorParams(
                            size=self.dim, distance=models.Distance.COSINE
                        )
                    },
                    sparse_vectors_config=(
                        {LEXICAL_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)}
                        if self.lexical
                        else None
                    ),
                    # Per-tenant graphs only: every search is scoped to one user
                    # (Qdrant's multitenancy recommendation).
                    hnsw_config=models.HnswConfigDiff(m=0, payload_m=16),
                )
            except UnexpectedResponse as exc:
                if exc.status_code != 409:  # another worker created it first
                    raise
        info = self.client.get_collection(self.collection)
        self._check_vectors(info.config.params.vectors)
        sparse = info.config.params.sparse_vectors or {}
        if self.lexical and LEXICAL_VECTOR not in sparse:
            raise ValueError(
                f"Qdrant collection {self.collection!r} holds no '{LEXICAL_VECTOR}' terms; "
                "a reindex builds a collection that does"
            )
        if self._local:
            # Local mode ignores payload indexes and warns on each one.
            return
        for name, kind in PAYLOAD_INDEXES:
            if name not in (info.payload_schema or {}):
                self.client.create_payload_index(
                    self.collection, name, field_schema=_index_schema(kind), wait=True
                )

    def _check_vectors(self, vectors: Any) -> None:
        params = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        if params is None or params.size != self.dim or params.distance != models.Distance.COSINE:
            raise ValueError(
                f"Qdrant collection {self.collection!r} does not hold {self.dim}-dim cosine "
                f"'{DENSE_VECTOR}' vectors (found {vectors!r}); use another collection name "
                "for another embedding model"
            )


def _vectors(dense: list[float], terms: Terms | None) -> dict[str, Any]:
    if terms is None:
        return {DENSE_VECTOR: dense}
    sparse = models.SparseVector(indices=terms.indices, values=terms.values)
    return {DENSE_VECTOR: dense, LEXICAL_VECTOR: sparse}


def _index_schema(kind: IndexKind) -> models.PayloadSchemaParams:
    if kind == "tenant":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    if kind == "keyword":
        return models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, enable_hnsw=False)
    return models.IntegerIndexParams(
        type=models.IntegerIndexType.INTEGER, lookup=True, range=True, enable_hnsw=False
    )


def _lexical(terms: Terms, where: models.Filter, limit: int) -> models.QueryRequest:
    """BM25 over the points `where` keeps, with their IDF (the user's own statistics)."""
    return models.QueryRequest(
        query=models.SparseVector(indices=terms.indices, values=terms.values),
        using=LEXICAL_VECTOR,
        filter=where,
        params=models.SearchParams(idf=models.IdfCorpusParams(corpus=where)),
        limit=limit,
        with_payload=False,
    )


def _filter(flt: SearchFilter, among: list[models.ExtendedPointId] | None = None) -> models.Filter:
    """`flt` as Qdrant's filter; with `among`, only those points."""
    must: list[models.Condition] = [
        models.FieldCondition(key="tenant", match=models.MatchValue(value=flt.tenant))
    ]
    if among is not None:
        must.append(models.HasIdCondition(has_id=among))
    if flt.since_ts is not None:
        must.append(models.FieldCondition(key="ts", range=models.Range(gte=flt.since_ts)))
    if flt.sources:
        must.append(models.FieldCondition(key="source", match=models.MatchAny(any=flt.sources)))
    if flt.types:
        must.append(models.FieldCondition(key="type", match=models.MatchAny(any=flt.types)))
    return models.Filter(must=must)

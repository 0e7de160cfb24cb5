"""The vector index contract: what the pipeline may ask of Qdrant, whichever Qdrant it is.

Two implementations honour it: `server.ServerIndex` (qdrant-client, for a Qdrant
server or cluster shared by many workers) and `edge.EdgeIndex` (qdrant-edge, the
engine in-process, owned by one worker process). Callers see only this module's
types, so the choice is made once, in `open_index`, from configuration.

Points are chunks. Their payload schema, which both implementations index the
same way:

=============  =======  ==========================================================
field          type     meaning and index
=============  =======  ==========================================================
tenant         str      ``"<org_id>:<user_pk>"``; keyword index with
                        ``is_tenant=True`` so each user's points are stored
                        together and a per-user search reads only them
org            int      organization id; integer index (org-wide maintenance)
ts             int      event or document time, epoch seconds; integer index
                        with ranges, for ``since_ts`` (freshness) filters
source         str      the ``source`` given at ingest; keyword index
type           str      event or document type; keyword index
kind           str      ``"event"`` or ``"document"``; not indexed
item_id        int      primary key of the event or document row; not indexed
ordinal        int      chunk number within the item; not indexed
external_id    str      the client's ``event_id`` / ``document_id``; not indexed
at             str      the time as ISO 8601 in UTC (``ts`` keeps no fraction);
                        not indexed
text           str      the chunk's words; not indexed
context        str      its header, ``2025-10-10 (gmail email):``; not indexed
=============  =======  ==========================================================

The last three make a search answer from the index alone; points written before
they were added are answered from their rows in PostgreSQL.

Vectors live under the name ``"dense"`` (cosine, the embedding model's
dimension). A collection made with `lexical` also holds, in each point, the sparse
vector ``"lexical"``: the chunk's terms with their BM25 weights (`terms`), under
Qdrant's IDF modifier; `hybrid` searches both in one call.

Point ids are UUID strings (uuid5 of org, user, item and chunk ordinal), which
is what makes every write an idempotent upsert.
"""

from __future__ import annotations

import math
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pipeline.errors import PersonaError
from pipeline.metrics import INDEX_SECONDS

DENSE_VECTOR = "dense"
"""Name of the dense vector on every point."""
LEXICAL_VECTOR = "lexical"
"""Name of the sparse vector of a point's terms, in a collection made with `lexical`."""

IndexKind = Literal["tenant", "keyword", "integer"]

PAYLOAD_INDEXES: tuple[tuple[str, IndexKind], ...] = (
    ("tenant", "tenant"),
    ("org", "integer"),
    ("ts", "integer"),
    ("source", "keyword"),
    ("type", "keyword"),
)
"""Payload fields each implementation indexes, and how (see the module docstring)."""

MAX_TIE_FETCH = 4096
"""How far past `limit` a search reads to order a run of equal scores by id."""
FIRST_READ = 2
"""`hybrid` first reads this many times `limit` of each list, so that a run of ties at the
cut needs no second read: a longer list costs the engine next to nothing (it scores
every matching point either way), a second read costs the whole search again."""

Vector = npt.NDArray[np.floating[Any]] | Sequence[float]


@dataclass(frozen=True, slots=True)
class Terms:
    """A sparse vector: term ids and their weights (a chunk's, or a query's)."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Point:
    """One chunk as stored: its id, its dense vector, its payload, and its terms where
    the collection matches words."""

    id: str
    vector: Vector
    payload: dict[str, Any] = field(default_factory=dict)
    terms: Terms | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result; `score` is the cosine similarity (BM25 for the lexical half of
    `hybrid`), higher is closer. A lexical hit carries its cosine to the query too.

    A hit has no payload: a caller ranks tens of candidates and shows a few, so it reads
    the payloads of those few (`payloads`). Reading them inside the search cost 3 ms for
    50 hits at 1M points in Qdrant Edge, where the whole search took 0.3 ms."""

    id: str
    score: float
    cosine: float | None = None


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a search may return. `tenant` is mandatory: no search crosses users.

    `since_ts` keeps points with ``ts >= since_ts``. `sources` and `types` keep
    points whose field is one of the values; ``None`` or an empty list means
    no restriction, so an API field left empty does not silently match nothing.
    """

    tenant: str
    since_ts: int | None = None
    sources: list[str] | None = None
    types: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.tenant:
            raise ValueError("a search needs a tenant: no search may cross users")


class IndexLocked(PersonaError):
    """The embedded index folder is owned by another worker process.

    Qdrant Edge is a library, not a server: exactly one process may open a
    shard folder. Other processes must reach the vectors through that process
    (the `retrieval` queue) or use a Qdrant server instead.
    """

    def __init__(self, path: str, holder: str | None = None) -> None:
        who = f" (held by pid {holder})" if holder else ""
        super().__init__(
            f"The embedded vector index at {path} is locked by another process{who}: "
            "one worker process owns the embedded index. Send vector work to that "
            "worker, or set PERSONA_QDRANT_URL to share a Qdrant server between processes."
        )
        self.path = path


def tenant_key(org_id: int, user_pk: int) -> str:
    """The `tenant` of a user's points: every write, search, count and erasure of the
    user's vectors goes through it, so no two spellings can disagree."""
    return f"{org_id}:{user_pk}"


POINT_NAMESPACE = uuid.UUID("6f1c1f3e-5b7a-4f0e-9a51-1d2b7c9e0a42")


def chunk_point_id(org_id: int, user_pk: int, kind: str, external_id: str, ordinal: int) -> str:
    """The same chunk always gets the same point id, so writing it twice leaves one copy."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{org_id}/{user_pk}/{kind}/{external_id}/{ordinal}"))


def point_id(raw: str | uuid.UUID) -> str:
    """The canonical form of a point id, so ids read back compare equal to ids written."""
    try:
        return str(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
    except ValueError:
        raise ValueError(f"point ids are UUID strings, got {raw!r}") from None


def as_vector(vector: Vector, dim: int) -> list[float]:
    """Validate one dense vector and turn it into the plain list both clients take.

    Checked here so a model/collection mismatch fails the same way, with the
    same message, on both implementations.
    """
    arr = np.asarray(vector, dtype=np.float32)
    if arr.shape != (dim,):
        raise ValueError(f"expected a vector of {dim} dimensions, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("vector contains NaN or infinity")
    return arr.tolist()


def as_vectors(vectors: Sequence[Vector], dim: int) -> list[list[float]]:
    """`as_vector` for a whole batch: one numpy conversion instead of one per point.

    Converting vectors one by one cost more than the engine's own write.
    """
    try:
        arr = np.asarray(vectors, dtype=np.float32)
    except ValueError:  # ragged rows
        arr = None
    if arr is None or arr.shape != (len(vectors), dim):
        for vector in vectors:
            as_vector(vector, dim)  # raises the precise error for the first bad one
        raise ValueError(f"expected vectors of {dim} dimensions")
    if not np.isfinite(arr).all():
        raise ValueError("vector contains NaN or infinity")
    return arr.tolist()


def points_in_order(wanted: list[str], records: Iterable[Any]) -> list[Point]:
    """Records of either back end as `Point`s, in the order asked, missing ids skipped."""
    found = {str(r.id): r for r in records}
    return [
        Point(i, _dense(found[i].vector), dict(found[i].payload or {}))
        for i in wanted
        if i in found
    ]


def _dense(vector: Any) -> list[float]:
    return list(vector[DENSE_VECTOR]) if isinstance(vector, dict) else list(vector or [])


def batched(items: Sequence[Point], size: int) -> Iterator[Sequence[Point]]:
    """Consecutive slices of at most `size` points: bounded requests and memory."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class VectorIndex(ABC):
    """One collection of chunk vectors, partitioned by tenant.

    Every write returns only once it is applied and visible to searches, so a
    job that has upserted can report success and a following query finds the
    points; it is durable once `flush` returns (a job flushes before it records
    its success). All methods may be called from several threads of one process.
    """

    dim: int
    lexical: bool
    """Whether its points hold their terms (`Point.terms`), for `hybrid`."""

    # --- writes -------------------------------------------------------------

    @abstractmethod
    def upsert(self, points: Iterable[Point]) -> None:
        """Insert or replace points by id (the latest vector and payload win)."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Remove points by id; ids that do not exist are ignored."""

    @abstractmethod
    def delete_tenant(self, tenant: str) -> None:
        """Remove every point of one user, whatever wrote it."""

    def flush(self) -> None:  # noqa: B027 - a no-op is the right default
        """Make every write so far durable (a no-op where each write already is)."""

    def alias(self, name: str) -> None:  # noqa: B027 - a no-op is the right default
        """Point the alias `name` at this collection where the back end has aliases."""

    def compact(self) -> bool:
        """Rewrite storage so that deleted points are in no file any more (after an
        erasure); True when that is done, False where this back end cannot promise it."""
        return False

    # --- reads --------------------------------------------------------------

    @abstractmethod
    def count(self, tenant: str) -> int:
        """Exact number of points of one user."""

    @abstractmethod
    def ids(self, tenant: str) -> set[str]:
        """The ids of every point of one user (what a repair compares with the rows)."""

    @abstractmethod
    def retrieve(self, ids: Iterable[str]) -> list[Point]:
        """Points by id, in the order asked, skipping missing ones.

        Vectors come back normalized (cosine collections store unit vectors).
        """

    @abstractmethod
    def payloads(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The payloads of the points `ids` that exist, by id (no vectors: what a search
        shows of its hits)."""

    def search(self, vector: Vector, flt: SearchFilter, limit: int) -> list[Hit]:
        """The `limit` nearest points of one tenant by cosine, best first.

        Equal scores are ordered by id, and the choice of which tied points
        make the cut at `limit` is deterministic too: the search reads past
        `limit` until the run of ties at the boundary ends (up to
        `MAX_TIE_FETCH` extra points), so the same data always gives the same
        answer on either implementation.
        """
        if limit <= 0:
            return []
        query = as_vector(vector, self.dim)
        with INDEX_SECONDS.labels("search").time():
            return _settled(lambda fetch: self._query(query, flt, fetch), limit)

    @abstractmethod
    def _query(self, vector: list[float], flt: SearchFilter, limit: int) -> list[Hit]:
        """The engine's own top-`limit` search; `search` adds validation and tie order."""

    def hybrid(
        self, vector: Vector, terms: Terms, flt: SearchFilter, limit: int
    ) -> tuple[list[Hit], list[Hit]]:
        """The `limit` best points of one tenant by cosine, and by words: one request to
        the engine for both (a collection made with `lexical`).

        The lexical score is BM25: the points' term weights times the query terms' IDF
        over the points `flt` keeps (the user's own chunks under the request's filters,
        so the statistics are the user's); each lexical hit also carries its cosine to
        `vector`, so a fusion knows both scores of every candidate. Both lists are in
        `search`'s order, ties by id, each read past `limit` while its boundary is tied
        (a list alone: chat turns tie in BM25 far more often than in cosine).
        """
        if not self.lexical:
            raise ValueError(f"{type(self).__name__} was opened without lexical terms")
        if limit <= 0:
            return [], []
        query = as_vector(vector, self.dim)
        if not terms.indices:  # a query of stopwords alone matches no words
            return self.search(query, flt, limit), []
        with INDEX_SECONDS.labels("hybrid").time():
            return self._hybrid(query, terms, flt, limit)

    def _hybrid(
        self, query: list[float], terms: Terms, flt: SearchFilter, limit: int
    ) -> tuple[list[Hit], list[Hit]]:
        fetch = FIRST_READ * limit + 1
        first_dense, first_words = self._both(query, terms, flt, fetch)
        dense = _settled(lambda n: self._query(query, flt, n), limit, (fetch, first_dense))
        words = _settled(lambda n: self._words(terms, flt, n), limit, (fetch, first_words))
        cosine = {h.id: h.score for h in dense}
        if missing := [h.id for h in words if h.id not in cosine]:
            cosine |= self._cosines(query, flt, missing)
        return dense, [Hit(h.id, h.score, cosine.get(h.id)) for h in words]

    @abstractmethod
    def _both(
        self, vector: list[float], terms: Terms, flt: SearchFilter, limit: int
    ) -> tuple[list[Hit], list[Hit]]:
        """The engine's own dense and lexical top-`limit` (`_query` and `_words`), in one
        request."""

    @abstractmethod
    def _words(self, terms: Terms, flt: SearchFilter, limit: int) -> list[Hit]:
        """The engine's own lexical top-`limit`: BM25 with the IDF of the points `flt` keeps."""

    @abstractmethod
    def _cosines(self, vector: list[float], flt: SearchFilter, ids: list[str]) -> dict[str, float]:
        """The cosine to `vector` of each of the points `ids` that `flt` keeps: a dense
        search among those points alone, cheaper than reading their vectors back."""

    def _terms_of(self, point: Point) -> Terms | None:
        """The terms a point is stored with: its own in a collection that matches words
        (where every point needs them), none elsewhere."""
        if not self.lexical:
            return None
        if point.terms is None:
            raise ValueError("this collection matches words: every point needs its terms")
        return point.terms

    # --- lifetime -----------------------------------------------------------

    @abstractmethod
    def drop(self) -> None:
        """Delete the whole collection, for good (a generation no longer kept); closes."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release files, locks and connections; safe to call twice."""

    def __enter__(self) -> VectorIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def scored_hits(points: Iterable[Any]) -> list[Hit]:
    """Scored points of either back end as hits."""
    return [Hit(str(p.id), float(p.score)) for p in points]


def _settled(
    fetch_list: Callable[[int], list[Hit]],
    limit: int,
    first: tuple[int, list[Hit]] | None = None,
) -> list[Hit]:
    """The list `fetch_list(n)` returns, in `search`'s order and cut at `limit`: read past
    `limit`, doubling, while its run of equal scores crosses the cut (up to
    `MAX_TIE_FETCH` extra points), so which tied points make it is the data's choice.
    `first` is a read already made: how many were asked, and what came."""
    fetch, found = first if first is not None else (limit + 1, fetch_list(limit + 1))
    while True:
        found = sorted(found, key=_rank)
        tied = len(found) == fetch and found[-1].score == found[limit - 1].score
        if not tied or fetch >= limit + MAX_TIE_FETCH:
            return found[:limit]
        fetch = min(2 * fetch, limit + MAX_TIE_FETCH)
        found = fetch_list(fetch)


def _rank(hit: Hit) -> tuple[float, str]:
    score = hit.score if not math.isnan(hit.score) else -math.inf
    return (-score, hit.id)

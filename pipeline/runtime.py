"""What a worker process keeps warm between tasks: the engine, the models, the indexes.

Built once per process from settings and handed to pipeline functions, which
never build their own. Each model and each generation's collection is loaded on
first use and shared by the worker's threads (a reindex to another model holds
two). A job holds one of `embedding.parallel` slots (`pipeline.slots`) while it
runs (default 2, each stream running onnxruntime on one thread). Alone, two
single-threaded batch streams embed as fast as one stream on two threads;
beside the gateway and PostgreSQL, a two-threaded run keeps waiting for
whichever of its threads was preempted, and bench-ingest went from 234 to 257
items/s on 2 cores with two single-threaded streams. Queries have their own
small copy of the model so that they never queue behind those slots.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial

import httpx
import numpy as np
import redis
from cachetools import LRUCache
from numpy.typing import NDArray
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipeline import generations, heartbeat, jobs, keyspace, models
from pipeline.chunking import Chunker
from pipeline.config import Settings
from pipeline.db.engine import get_engine, session_scope
from pipeline.embedding import Embedder
from pipeline.generations import Generation
from pipeline.models import LexicalSpec, ModelSpec
from pipeline.placing import Target
from pipeline.slots import Slots, lower_priority, lowest_priority
from pipeline.vectors import VectorIndex, open_index
from pipeline.vectors.terms import TermEncoder

QUERY_VECTORS = 4096
"""Query vectors a worker keeps, the most recently asked first (6 MB at 384 dimensions).
Agents ask the same questions again (a purpose's fixed prompts, retries, a user's
"what did I say about…"), and each costs the model about 3 ms of a core."""


@dataclass
class Runtime:
    settings: Settings
    slots: Slots = field(init=False)
    _init_lock: threading.RLock = field(default_factory=threading.RLock)
    _embedders: dict[tuple[str, bool], Embedder] = field(default_factory=dict)
    _indexes: dict[str, VectorIndex] = field(default_factory=dict)
    _chunkers: dict[str, Chunker] = field(default_factory=dict)
    _terms: dict[str, TermEncoder] = field(default_factory=dict)
    _query_vectors: LRUCache[tuple[str, tuple[int, ...]], NDArray[np.float32]] = field(
        default_factory=lambda: LRUCache(QUERY_VECTORS)
    )
    _query_lock: threading.Lock = field(default_factory=threading.Lock)
    running: jobs.Running = field(default_factory=jobs.Running)
    """The jobs this process is running now (`ingest.claims`)."""

    def __post_init__(self) -> None:
        reindex = self.settings.reindex
        self.slots = Slots(
            self.settings.embedding.parallel, reindex.background_slots, reindex.starve_s
        )

    @cached_property
    def engine(self) -> Engine:
        return get_engine(self.settings.require_database_url(), self.settings.database.pool_size)

    @property
    def default_model(self) -> ModelSpec:
        """The model a new install's first generation is built with."""
        return models.spec(self.settings.embedding.model)

    def embedder(self, model: ModelSpec) -> Embedder:
        """`model` for jobs: `embedding.threads` per stream, loaded on first use."""
        return self._embedder(model, query=False)

    def query_embedder(self, model: ModelSpec) -> Embedder:
        """`model` for queries: its own copy on one thread, never behind a job's slot."""
        return self._embedder(model, query=True)

    def _embedder(self, model: ModelSpec, query: bool) -> Embedder:
        key = (model.name, query)
        found = self._embedders.get(key)
        if found is None:
            with self._init_lock:
                found = self._embedders.get(key)
                if found is None:
                    embedding = self.settings.embedding
                    found = Embedder(
                        embedding.folder(model),
                        threads=1 if query else embedding.threads,
                        batch_size=1 if query else embedding.batch_size,
                        model=model,
                    )
                    self._embedders[key] = found
        return found

    def chunker(self, model: ModelSpec) -> Chunker:
        found = self._chunkers.get(model.name)
        if found is None:
            embedder = self.embedder(model)
            found = self._chunkers.setdefault(
                model.name, Chunker(embedder.tokenizer, embedder.max_tokens)
            )
        return found

    def build_of(self, model: ModelSpec) -> str:
        """Which build of `model` this worker runs: the hash of its folder's marker."""
        marker = self.settings.embedding.folder(model) / models.BUILD_MARKER
        return hashlib.sha256(marker.read_bytes()).hexdigest() if marker.is_file() else "hub"

    def active(self, session: Session) -> Generation:
        """The active generation; a new install's first, from the default model."""
        model = self.default_model
        lexical = models.lexical(self.settings.embedding.lexical)
        return generations.ensure_active(session, model, self.build_of(model), lexical)

    def index(self, generation: Generation) -> VectorIndex:
        """The vector collection of `generation`, opened on first use and kept."""
        found = self._indexes.get(generation.collection)
        if found is None:
            with self._init_lock:
                found = self._indexes.get(generation.collection)
                if found is None:
                    qdrant = self.settings.qdrant
                    found = open_index(
                        qdrant.url,
                        self.settings.data_dir / "qdrant",
                        dim=generation.model.dim,
                        collection=generation.collection,
                        lexical=generation.lexical.in_index,
                        api_key=qdrant.api_key.get_secret_value() if qdrant.api_key else None,
                    )
                    self._indexes[generation.collection] = found
        return found

    def target(self, generation: Generation) -> Target:
        """Where items are placed in `generation`: its collection, and its term encoder
        when its points hold their words."""
        return Target(generation, self.index(generation), self.terms(generation.lexical))

    def terms(self, spec: LexicalSpec) -> TermEncoder | None:
        """The encoder of `spec`'s terms (None for words matched outside the index),
        built once per process."""
        if not spec.in_index:
            return None
        found = self._terms.get(spec.name)
        if found is None:
            with self._init_lock:
                found = self._terms.setdefault(spec.name, TermEncoder(spec))
        return found

    def drop_index(self, generation: Generation) -> None:
        """Delete `generation`'s collection (its shard folder, embedded) for good."""
        with self._init_lock:
            self.index(generation).drop()
            self._indexes.pop(generation.collection, None)

    @cached_property
    def background(self) -> ThreadPoolExecutor:
        """Threads for background embedding, one per slot, at the lowest CPU priority.

        A reindex on every slot of an idle worker keeps every core busy; when a read or
        a live job comes, the kernel's scheduler gives it the core first (nice 19 weighs
        about 1/70 of nice 0), instead of sharing it equally with the page in hand."""
        return ThreadPoolExecutor(
            max_workers=self.settings.embedding.parallel,
            thread_name_prefix="persona-background",
            initializer=lowest_priority,
        )

    @cached_property
    def live(self) -> ThreadPoolExecutor:
        """Threads for live ingestion's embedding, one per slot, at `embedding.live_nice`.

        A stream of small requests keeps both the gateway and the model busy on the same
        cores (`persona run`): the model's batches can wait a few milliseconds, a client
        waiting for its 202 or a query should not. Below reprocessing's 19, so live jobs
        still come before a reindex."""
        return ThreadPoolExecutor(
            max_workers=self.settings.embedding.parallel,
            thread_name_prefix="persona-live",
            initializer=partial(lower_priority, self.settings.embedding.live_nice),
        )

    @cached_property
    def readers(self) -> ThreadPoolExecutor:
        """Threads for the Postgres half of a search, which runs beside the model's half.

        Sized like the worker's task threads: each search holds one at most."""
        return ThreadPoolExecutor(
            max_workers=max(2, self.settings.celery.worker_concurrency),
            thread_name_prefix="persona-reader",
        )

    @cached_property
    def http(self) -> httpx.Client:
        """Outbound HTTP (webhook deliveries): one pool per process; no redirects."""
        return httpx.Client(follow_redirects=False)

    @cached_property
    def worker_id(self) -> str:
        """This process, as the jobs it claims name it (`pipeline.heartbeat`)."""
        return heartbeat.worker_id()

    @cached_property
    def redis(self) -> redis.Redis:
        """The worker's client for caches and per-user keys (not the broker's connection)."""
        return keyspace.connect(self.settings.require_redis_url())

    @cached_property
    def query_model(self) -> ModelSpec:
        """The model queries are embedded with before the search learns the active
        generation: the one this process last saw active (`retrieval.search`)."""
        return self.default_model

    def embed_query(self, text: str, model: ModelSpec) -> NDArray[np.float32]:
        """A query's vector (read-only), from the queries' own copy of the model (never
        behind a job), or from the last `QUERY_VECTORS` asked when the model reads the
        same tokens again (so "Where's Ash?" and "where's  ash?" share one)."""
        embedder = self.query_embedder(model)
        key = (model.name, embedder.reads(text))
        with self._query_lock:
            vector = self._query_vectors.get(key)
        if vector is None:
            vector = embedder.embed([text])[0]
            vector.setflags(write=False)  # shared by every search that asks it again
            with self._query_lock:
                self._query_vectors[key] = vector
        return vector

    def warm_up(self) -> None:
        """Load the active generation's model and index now, and run the model once
        (onnxruntime's first run is slow)."""
        with session_scope(self.engine) as session:
            generation = self.active(session)
        self.query_model = generation.model
        self.embedder(generation.model).embed(["warm-up"])
        self.embed_query("warm-up", generation.model)
        self.index(generation)

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if "readers" in self.__dict__:
            self.readers.shutdown(wait=True)
        if "background" in self.__dict__:
            self.background.shutdown(wait=True)
        if "live" in self.__dict__:
            self.live.shutdown(wait=True)
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()

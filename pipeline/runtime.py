"""What a worker process keeps warm between tasks: the engine, the model, the index.

Built once per process from settings and handed to pipeline functions, which
never build their own. The model is loaded on first use and shared by the
worker's threads: a job holds one of `embedding.parallel` slots while it
runs (default 2, each stream running onnxruntime on one thread). Alone, two
single-threaded batch streams embed as fast as one stream on two threads;
beside the gateway and PostgreSQL, a two-threaded run keeps waiting for
whichever of its threads was preempted, and bench-ingest went from 234 to 257
items/s on 2 cores with two single-threaded streams. Queries have their own
small copy of the model so that they never queue behind those slots.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import httpx
import numpy as np
import redis
from numpy.typing import NDArray
from sqlalchemy import Engine

from pipeline import heartbeat, keyspace, models
from pipeline.chunking import Chunker
from pipeline.config import Settings
from pipeline.db.engine import get_engine
from pipeline.embedding import Embedder
from pipeline.vectors import VectorIndex, open_index


@dataclass
class Runtime:
    settings: Settings
    _embed_slots: threading.BoundedSemaphore = field(init=False)
    _init_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._embed_slots = threading.BoundedSemaphore(self.settings.embedding.parallel)

    @cached_property
    def engine(self) -> Engine:
        return get_engine(self.settings.require_database_url(), self.settings.database.pool_size)

    @cached_property
    def embedder(self) -> Embedder:
        with self._init_lock:
            embedding = self.settings.embedding
            model = models.spec(embedding.model)
            return Embedder(
                embedding.folder(model),
                threads=embedding.threads,
                batch_size=embedding.batch_size,
                model=model,
            )

    @cached_property
    def query_embedder(self) -> Embedder:
        """A second, single-threaded copy of the model for queries, so that a search never
        waits behind an ingest job's batches holding the main one (it costs ~100 MB)."""
        with self._init_lock:
            embedding = self.settings.embedding
            model = models.spec(embedding.model)
            return Embedder(embedding.folder(model), threads=1, batch_size=1, model=model)

    @cached_property
    def chunker(self) -> Chunker:
        return Chunker(self.embedder.tokenizer, self.embedder.max_tokens)

    @cached_property
    def index(self) -> VectorIndex:
        with self._init_lock:
            qdrant = self.settings.qdrant
            return open_index(
                qdrant.url,
                self.settings.data_dir / "qdrant",
                dim=self.embedder.dim,
                api_key=qdrant.api_key.get_secret_value() if qdrant.api_key else None,
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

    @contextmanager
    def embedding_slot(self, timeout_s: float | None = None) -> Iterator[bool]:
        """One of the `embedding.parallel` batch streams, held for a whole job: yields
        False when none freed within `timeout_s` (None: wait for one)."""
        held = self._embed_slots.acquire(timeout=timeout_s)
        try:
            yield held
        finally:
            if held:
                self._embed_slots.release()

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """A query's vector, from the queries' own copy of the model (never behind a job)."""
        return self.query_embedder.embed([text])[0]

    def warm_up(self) -> None:
        """Build everything now, and run the model once (onnxruntime's first run is slow)."""
        self.embedder.embed(["warm-up"])
        self.embed_query("warm-up")
        _ = self.chunker, self.index, self.engine

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()
        if "readers" in self.__dict__:
            self.readers.shutdown(wait=True)
        if "index" in self.__dict__:
            self.index.close()

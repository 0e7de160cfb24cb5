"""One settings tree for every Persona process, read from `PERSONA_*` variables.

Sections are nested models; a variable names its section then its field with one
underscore (`PERSONA_DATABASE_URL` is `database.url`, `PERSONA_LLM_BASE_URL` is
`llm.base_url`), so the names an operator types stay the short ones the README
lists. Settings are read at the edges (CLI, gateway factory, Celery app) and
passed in; domain code never reaches for a global.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline import models


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of PostgreSQL (postgresql+psycopg://...). "
        "Unset: `persona run` starts the embedded PostgreSQL.",
    )
    pool_size: int = Field(default=10, description="Connections kept open per process.")


class RedisSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="Redis URL for the broker, results and caches. "
        "Unset: `persona run` starts the embedded Redis.",
    )


class EmbeddingSettings(BaseModel):
    models_dir: Path = Field(
        default=Path("var/models"),
        description="Folder of the ONNX embedding models, one folder each "
        "(`make model` builds them offline).",
    )
    model: str = Field(
        default=models.DEFAULT,
        description=f"Model of a new install's first index generation: {', '.join(models.MODELS)}"
        " (`persona reindex --model` switches later).",
    )

    lexical: str = Field(
        default=models.DEFAULT_LEXICAL,
        description="How a new install's first index generation matches words: "
        "bm25 (terms in each point, searched with the vectors in one call to the index) or "
        "postgres (BM25 over the chunk rows); `persona reindex --lexical` switches later.",
    )

    @field_validator("model")
    @classmethod
    def _known(cls, value: str) -> str:
        models.spec(value)
        return value

    @field_validator("lexical")
    @classmethod
    def _known_lexical(cls, value: str) -> str:
        models.lexical(value)
        return value

    def folder(self, model: models.ModelSpec) -> Path:
        """Where `model` is built and loaded from."""
        return models.folder(self.models_dir, model)

    # Measured on 2 cores (`make bench-ingest`, and its texts embedded job by job in one
    # process): see `pipeline.runtime` on threads and `pipeline.embedding` on batches.
    threads: int | None = Field(
        default=1,
        description="onnxruntime threads per batch stream (None: all cores); "
        "threads x parallel should match the worker's cores.",
    )
    batch_size: int = Field(default=16, description="Texts per model call.")
    parallel: int = Field(
        default=2, ge=1, description="Jobs of one worker that may embed at the same time."
    )
    live_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="CPU priority (nice) of the threads that embed live ingestion: below "
        "answering (the gateway, the stores, queries), above reprocessing (19).",
    )


class QdrantSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="Qdrant server URL. Unset: the embedded index (Qdrant Edge) in the worker, "
        "under DATA_DIR/qdrant.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key of that Qdrant server, if it asks for one."
    )


class IngestSettings(BaseModel):
    max_items: int = Field(default=1000, description="Events plus documents in one request.")
    max_event_bytes: int = Field(default=64 * 1024, description="Content of one event (UTF-8).")
    max_document_bytes: int = Field(
        default=5 * 1024 * 1024, description="Content of one document (UTF-8)."
    )
    sweep_interval_s: float = Field(
        default=10.0,
        description="How often the sweeper looks for jobs whose message or worker was lost.",
    )
    republish_after_s: float = Field(
        default=60.0,
        description="A queued job not started this long after it was published is re-published.",
    )
    job_time_limit_s: float = Field(
        default=900.0,
        gt=0,
        description="An ingest job still embedding after this long fails (a 10 MB request "
        "of long documents embeds in about 7 minutes on 2 cores).",
    )
    stuck_after_s: float = Field(
        default=960.0,
        description="A running job is presumed lost with its worker after this long and is "
        "re-published; longer than `job_time_limit_s`.",
    )
    batch_items: int = Field(
        default=256,
        ge=1,
        description="Items a worker indexes together: the job it was sent and other queued "
        "ingest jobs taken with it, while their items fit (a single larger job runs alone).",
    )
    batch_linger_s: float = Field(
        default=0.02,
        ge=0,
        description="How long a worker whose batch is short of `batch_items` waits, once, "
        "for more jobs to arrive: what a lone job may be delayed by.",
    )
    max_backlog: int = Field(
        default=10000,
        description="Ingest messages waiting in the broker (each names the jobs of one "
        "gateway commit) above which /ingest answers 429 (backpressure).",
    )
    backlog_check_s: float = Field(
        default=1.0, description="How long a gateway process reuses one reading of the backlog."
    )
    backlog_retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After, in seconds, of a 429 for backpressure."
    )


class GatewaySettings(BaseModel):
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest request body accepted (413 above)."
    )
    workers: int = Field(default=1, description="Gateway server processes.")
    rpc_timeout_s: float = Field(
        default=10.0, description="How long a read waits for a worker before answering 503."
    )
    auth_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a gateway process reuses what it read of an API key (its "
        "organization, scopes and limits): a revoked key or new limits take effect within "
        "this. 0 reads them on every request.",
    )


class CelerySettings(BaseModel):
    visibility_timeout_s: int = Field(
        default=1800,
        description="Seconds before Redis redelivers an unacknowledged task; "
        "longer than the longest task (`ingest.job_time_limit_s`).",
    )
    worker_concurrency: int = Field(
        default=4,
        ge=1,
        description="Task threads per worker process; more than `embedding.parallel`, so "
        "that reads find a free thread while jobs index.",
    )
    task_events: bool = Field(
        default=False,
        description="Send Celery's task events (for Flower or a Celery exporter): three "
        "more messages to the broker per task.",
    )


UNIX_SOCKET = "unix:"
"""How a reads address names a Unix socket: `unix:PATH`."""


def unix_socket_path(address: str) -> str | None:
    """The socket path of a `unix:PATH` address; None for a TCP one."""
    return address.removeprefix(UNIX_SOCKET) if address.startswith(UNIX_SOCKET) else None


class ReadsSettings(BaseModel):
    """The direct read path: the gateway asks a worker that holds the index over HTTP,
    instead of through the task queue and its result backend."""

    listen: str | None = Field(
        default=None,
        description="Where a worker serves reads: `unix:PATH` (a socket only its user may "
        "open) or `HOST:PORT` (needs PERSONA_READS_TOKEN). Unset: the retrieval queue only. "
        "`persona run` sets a socket in DATA_DIR.",
    )
    url: str | None = Field(
        default=None,
        description="Where the gateway sends reads: `unix:PATH` or `http://HOST:PORT`; "
        "unset, or while nothing answers there, the retrieval queue.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Bearer token of reads over TCP, the same on gateway and workers.",
    )

    @model_validator(mode="after")
    def _tcp_needs_a_token(self) -> Self:
        if self.listen and unix_socket_path(self.listen) is None and self.token is None:
            raise ValueError(
                "PERSONA_READS_LISTEN on a TCP port needs PERSONA_READS_TOKEN: anyone who "
                "reaches the port could read every user's chunks"
            )
        return self


class MetricsSettings(BaseModel):
    """Prometheus metrics. Under `persona run` the gateway's `GET /metrics` serves every
    process's (PROMETHEUS_MULTIPROC_DIR, which it sets); elsewhere each process serves
    its own."""

    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Where a worker serves its own metrics when no PROMETHEUS_MULTIPROC_DIR "
        "gathers them for the gateway (the distributed shape); unset: not served.",
    )


class ReindexSettings(BaseModel):
    keep_old_s: float = Field(
        default=86400.0,
        ge=0,
        description="How long a replaced generation is kept (to switch back by hand) "
        "before its collection and rows are dropped.",
    )
    page_items: int = Field(
        default=32, ge=1, description="Items a background job embeds per slot it takes."
    )
    step_s: float = Field(
        default=20.0,
        gt=0,
        description="A long job works this long per task, then checkpoints and queues its "
        "next step: no task outlives the broker's visibility timeout.",
    )
    background_slots: int | None = Field(
        default=None,
        ge=1,
        description="Embedding slots of a worker that background jobs may hold at once "
        "(unset: all of them; they take more than one only after 30 s without a live job).",
    )
    starve_s: float = Field(
        default=2.0,
        gt=0,
        description="A background job kept waiting this long takes a free slot anyway, "
        "for one page, so that it ends under a steady live load.",
    )
    catch_up_below: int = Field(
        default=200,
        ge=1,
        description="A reindex switches once fewer items than this were indexed live "
        "since its last pass (they are embedded under the switch lock).",
    )
    verify_every_s: float = Field(
        default=60.0,
        ge=0,
        description="How often beat runs the scheduled verify-and-repair of the active "
        "generation, a few users at a time (0: never).",
    )
    verify_users: int = Field(
        default=20, ge=1, description="Users the scheduled verify checks per run."
    )


class LLMSettings(BaseModel):
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible API (vLLM, llama.cpp server, Ollama, a hosted one), "
        "e.g. http://127.0.0.1:11434/v1. Unset: answers and summaries are extractive.",
    )
    model: str | None = Field(default=None, description="Model name sent to the LLM endpoint.")
    api_key: str | None = Field(default=None, description="Bearer key for the LLM endpoint.")
    timeout_s: float = Field(
        default=20.0, description="A slower LLM answer is dropped for the extractive one."
    )
    max_tokens: int = Field(default=512, description="Longest generated answer, in tokens.")

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


class RateLimitSettings(BaseModel):
    """Defaults of every organization's token bucket; an organization's own columns
    (`persona orgs limits`) override them."""

    per_s: float = Field(default=1000.0, gt=0, description="Requests per second refilled.")
    burst: int = Field(default=2000, ge=1, description="Bucket size: the largest burst.")
    anonymous_per_s: float = Field(
        default=5.0,
        gt=0,
        description="Requests per second from one client address without a valid key "
        "(each answered 401) before they answer 429.",
    )
    anonymous_burst: int = Field(
        default=20, ge=1, description="Bucket size of a client address without a valid key."
    )


class WebhooksSettings(BaseModel):
    """Signed events in from producers' sources, and out to an organization's endpoints."""

    rotation_grace_s: float = Field(
        default=86400.0,
        ge=0,
        description="After a source's secret is rotated, the old one keeps verifying this long.",
    )
    retry_schedule_s: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        description="Delays before each retry of a failed delivery (each with up to 20% "
        "jitter); after the last, the delivery has failed.",
    )
    disable_after_s: float = Field(
        default=5 * 86400.0,
        gt=0,
        description="An endpoint whose every delivery failed for this long is disabled.",
    )
    timeout_s: float = Field(
        default=10.0, gt=0, description="A receiver slower than this has failed the attempt."
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow endpoints on loopback, private or link-local addresses "
        "(refused by default: a webhook must not reach into the server's own network).",
    )
    poll_s: float = Field(
        default=2.0,
        gt=0,
        description="How often beat looks for deliveries that are due (retries, and any "
        "whose message was lost).",
    )


class SummariesSettings(BaseModel):
    quiet_s: float = Field(
        default=5.0,
        gt=0,
        description="A user's ingestion has settled when no job succeeded for this long; "
        "then the summaries queue refreshes their summaries once.",
    )
    candidates: int = Field(
        default=32, ge=4, le=512, description="Chunks read per purpose query to pick facts from."
    )
    max_refreshed: int = Field(
        default=32, ge=1, description="Summaries of one user a refresh recomputes (newest first)."
    )
    cache_ttl_s: int = Field(
        default=7 * 24 * 3600, description="Lifetime of the Redis hot copy of a summary."
    )
    llm_retry_s: float = Field(
        default=300.0,
        description="A summary that fell back to the extractive text because the LLM failed "
        "is recomputed on the next request after this long.",
    )


MIN_KEY_CHARS = 32
PLACEHOLDER = re.compile(r"change.?me|example|placeholder|your.?key|dummy", re.IGNORECASE)


class Settings(BaseSettings):
    """Everything a Persona process can be told, with the defaults of the embedded shape."""

    model_config = SettingsConfigDict(
        env_prefix="PERSONA_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    host: str = Field(default="127.0.0.1", description="Address the gateway binds.")
    port: int = Field(default=8000, description="Port the gateway binds.")
    data_dir: Path = Field(
        default=Path("var"), description="Where the embedded servers and keys keep their data."
    )
    bootstrap_key: str | None = Field(
        default=None,
        description="API key registered at start-up as read_write+admin+operator of the default "
        "organization. Unset under `persona run`: one is made and kept in DATA_DIR.",
    )
    default_org: str = Field(default="default", description="Organization of the bootstrap key.")
    log_level: str = Field(default="INFO", description="Log level of every process.")
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto",
        description="Log lines as text or JSON; auto: text on a terminal, JSON otherwise.",
    )

    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    qdrant: QdrantSettings = QdrantSettings()
    ingest: IngestSettings = IngestSettings()
    gateway: GatewaySettings = GatewaySettings()
    celery: CelerySettings = CelerySettings()
    llm: LLMSettings = LLMSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    summaries: SummariesSettings = SummariesSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    reindex: ReindexSettings = ReindexSettings()
    reads: ReadsSettings = ReadsSettings()
    metrics: MetricsSettings = MetricsSettings()

    @field_validator("bootstrap_key")
    @classmethod
    def _not_a_placeholder(cls, key: str | None) -> str | None:
        """A key copied from an example is a key an attacker has read too."""
        if key is not None and (len(key) < MIN_KEY_CHARS or PLACEHOLDER.search(key)):
            raise ValueError(
                f"PERSONA_BOOTSTRAP_KEY looks like a placeholder or is shorter than "
                f"{MIN_KEY_CHARS} characters; generate one: "
                "python -c 'import secrets; print(\"pk_\" + secrets.token_urlsafe(32))'"
            )
        return key

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Rules that tie settings of different sections together, checked at start-up
        rather than found out when a job is run twice or a read waits for a thread."""
        limit = self.ingest.job_time_limit_s
        if self.ingest.stuck_after_s <= limit:
            raise ValueError(
                f"PERSONA_INGEST_STUCK_AFTER_S ({self.ingest.stuck_after_s:g}) must exceed "
                f"PERSONA_INGEST_JOB_TIME_LIMIT_S ({limit:g}): a job still within its time "
                "would be re-published while it runs"
            )
        if self.celery.visibility_timeout_s <= limit:
            raise ValueError(
                f"PERSONA_CELERY_VISIBILITY_TIMEOUT_S ({self.celery.visibility_timeout_s}) must "
                f"exceed PERSONA_INGEST_JOB_TIME_LIMIT_S ({limit:g}): Redis would hand a task "
                "still running to another worker"
            )
        if self.celery.worker_concurrency <= self.embedding.parallel:
            raise ValueError(
                f"PERSONA_CELERY_WORKER_CONCURRENCY ({self.celery.worker_concurrency}) must "
                f"exceed PERSONA_EMBEDDING_PARALLEL ({self.embedding.parallel}): reads need a "
                "free thread while every embedding slot indexes"
            )
        return self

    @property
    def step_budget_s(self) -> float:
        """How long one step of a long job works: `reindex.step_s`, but at most half of
        `ingest.stuck_after_s`, so that the sweeper never takes a step still at work for
        a lost one (it would only be a duplicate the step lock turns away, but a wasted
        message)."""
        return min(self.reindex.step_s, self.ingest.stuck_after_s / 2)

    def require_database_url(self) -> str:
        """The database URL, or a message saying how to get one (why: a clear start-up error)."""
        if not self.database.url:
            raise RuntimeError(
                "PERSONA_DATABASE_URL is not set: start the system with `persona run` "
                "(which starts an embedded PostgreSQL) or point it at a server."
            )
        return self.database.url

    @property
    def lane(self) -> str:
        """The broker this process sends and takes jobs through, as a short name: its
        address and database, hashed (the URL may hold a password). A worker batches
        queued ingest jobs of its own lane only, so two deployments sharing a database
        (a test suite's; staging beside production) never run each other's jobs."""
        url = urlsplit(self.require_redis_url())
        where = f"{url.scheme}://{url.hostname}:{url.port}{url.path}?{url.query}"
        return hashlib.sha256(where.encode()).hexdigest()[:16]

    def require_redis_url(self) -> str:
        if not self.redis.url:
            raise RuntimeError(
                "PERSONA_REDIS_URL is not set: start the system with `persona run` "
                "(which starts an embedded Redis) or point it at a server."
            )
        return self.redis.url


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()

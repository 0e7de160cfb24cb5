"""Tables of the system of record.

Postgres holds the truth; Qdrant and Redis hold copies that can be rebuilt from
it. Every row a tenant owns carries its organization so that no query can reach
across tenants by forgetting a join.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pipeline.status import (
    DeliveryStatus,
    GenerationState,
    ItemKind,
    ItemState,
    JobStatus,
    SummarySource,
    UserStatus,
    one_of,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Organization(Base):
    """A tenant: API keys and users belong to exactly one."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    # Token bucket of this organization; NULL: the PERSONA_RATELIMIT_* defaults.
    rate_limit_per_s: Mapped[float | None] = mapped_column(Float)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer)
    # A plan with quotas per calendar month (UTC); NULL quotas: no quota headers.
    plan: Mapped[str | None] = mapped_column(String(64))
    quota_turns: Mapped[int | None] = mapped_column(BigInteger)
    quota_users: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """A key is stored only as its SHA-256: keys are long random strings, so a fast
    hash is enough and lets every request find its key with one index lookup."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class User(Base):
    """An end user of an organization, shared by `/register` and `/v1/end-users`."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_users_org_user"),
        CheckConstraint(one_of("status", UserStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(256), nullable=False)
    traits: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    purpose: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=UserStatus.ACTIVE)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Job(Base):
    """A unit of background work and its outcome, the row `GET /jobs/{id}` reads.

    Jobs name their user by (org, user_id) and the user row's id without a
    foreign key, so the report of a finished job outlives the user it served.
    `published_at` is when its message last went to the broker: the sweeper
    re-publishes jobs left queued longer than a bound (the outbox), and running jobs
    whose `worker` is gone.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(one_of("status", JobStatus), name="status"),
        Index(
            "ix_jobs_pending",
            "status",
            "published_at",
            postgresql_where=text(f"status IN ('{JobStatus.QUEUED}', '{JobStatus.RUNNING}')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # None on a job of no one user (a reindex of an organization or of everything).
    user_id: Mapped[str | None] = mapped_column(String(256))
    user_pk: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=JobStatus.QUEUED)
    items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    chunks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    created_at: Mapped[datetime] = _created()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worker process that claimed the job last (host:pid): when its heartbeat stops,
    # the sweeper re-publishes the job without waiting for the stuck-job timeout.
    worker: Mapped[str | None] = mapped_column(String(128))
    # The broker its message went through (`Settings.lane`): a worker batches the queued
    # jobs of its own lane only.
    lane: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What a finished job reports beyond counts (an erasure: what it removed, per store).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # A long job's checkpoint and progress (`pipeline.reprocess.progress`).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Item(Base):
    """An accepted event or document: the durable copy everything else is derived from.

    Unique per (user, kind, external id), which is what makes a re-sent event a
    duplicate rather than a second memory. `id` only grows, so the largest id
    of a user is the version of its data that summaries are keyed on.
    """

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("user_pk", "kind", "external_id", name="uq_items_user_kind_external"),
        CheckConstraint(one_of("kind", ItemKind), name="kind"),
        CheckConstraint(one_of("state", ItemState), name="state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    external_id: Mapped[str] = mapped_column(String(256), nullable=False)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    type: Mapped[str] = mapped_column(String(128), nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False, default=dict)
    job_id: Mapped[str] = mapped_column(String(26), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=ItemState.PENDING)
    # Drawn from `ITEM_INDEX_SEQ` each time the item is indexed: what a reindex catches up
    # on (`pipeline.reprocess.reindex`). None until first indexed.
    index_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


ITEM_INDEX_SEQ = Sequence("items_index_seq", metadata=Base.metadata)


class Generation(Base):
    """One complete derived index: the model and chunking it was built with, its own vector
    collection, and its chunk rows. Exactly one is `active` (what every read uses), and
    at most one is `building` (a reindex in progress): partial unique indexes say so."""

    __tablename__ = "generations"
    __table_args__ = (
        CheckConstraint(one_of("state", GenerationState), name="state"),
        Index(
            "uq_generations_active",
            "state",
            unique=True,
            postgresql_where=text(f"state = '{GenerationState.ACTIVE}'"),
        ),
        Index(
            "uq_generations_building",
            "state",
            unique=True,
            postgresql_where=text(f"state = '{GenerationState.BUILDING}'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    build: Mapped[str] = mapped_column(String(64), nullable=False)
    chunking: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    lexical: Mapped[str] = mapped_column(String(32), nullable=False)
    collection: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = _created()
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    drop_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dropped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Chunk(Base):
    """A piece of an item as embedded for one generation: the text, where it came from,
    and its point id (the same id in every generation's collection)."""

    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("item_id", "generation_id", "ordinal", name="uq_chunks_item_generation"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id"), nullable=False)
    user_pk: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    ordinal: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # The "2025-10-10 (gmail email) Title:" header the chunk was embedded under: its date
    # and origin, shown with the text and searched with it.
    context: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    token_count: Mapped[int] = mapped_column(Integer, nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    point_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # Lexical side of retrieval (BM25 over the user's chunks); Postgres keeps it current.
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, context || ' ' || text)", persisted=True),
        nullable=False,
    )
    created_at: Mapped[datetime] = _created()


# The user's data sequence (the largest chunk id of a user in a generation, see
# summaries.store) is one backward probe of this index; a user's chunks of a generation
# (the lexical search) are a range of it.
Index("ix_chunks_user_generation", Chunk.user_pk, Chunk.generation_id, Chunk.id)
# A user's most recent items, for the recency candidates of a summary.
Index("ix_items_user_pk_ts", Item.user_pk, Item.ts, Item.id)
# What a reindex catches up on: items indexed after its snapshot.
Index("ix_items_index_seq", Item.index_seq)
# The user's data sequence (summaries.store): one backward probe.
Index("ix_items_user_pk_index_seq", Item.user_pk, Item.index_seq)


class Summary(Base):
    """A user's summary for one set of parameters, as last computed (see summaries.store).

    `version` names the data it was written from; `input_hash` the exact input of the
    writer, so an LLM is asked again only when its input changed; `refreshes` counts
    how many times the summaries queue recomputed it after ingestion settled.
    """

    __tablename__ = "summaries"
    __table_args__ = (
        UniqueConstraint("user_pk", "cache_key", name="uq_summaries_user_key"),
        CheckConstraint(one_of("source", SummarySource), name="source"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    cache_key: Mapped[str] = mapped_column(String(64), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    max_chars: Mapped[int] = mapped_column(Integer, nullable=False)
    freshness_days: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(200), nullable=False)
    data_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    refreshes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = _created()


class WebhookSource(Base):
    """A producer that pushes signed events (`POST /webhooks/{id}`): its secret verifies
    them, its `mapping` (JMESPath expressions) reads its own JSON."""

    __tablename__ = "webhook_sources"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_webhook_sources_org_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    # After a rotation the old secret verifies until `previous_until`.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class WebhookEndpoint(Base):
    """An organization's receiver of signed events, and the events it subscribed to."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()
    # Since when every attempt failed (cleared by a success); past the limit, disabled.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookEvent(Base):
    """An event to deliver (the outbox): written in the transaction of the change it
    reports. Its id is the `webhook-id` every attempt of every delivery carries. Events
    about a user carry its `user_pk`, so an erasure drops those not yet delivered."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    user_pk: Mapped[int | None] = mapped_column(BigInteger, index=True)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _created()


class WebhookDelivery(Base):
    """One event to one endpoint: tried until a 2xx or the end of the retry schedule."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(one_of("status", DeliveryStatus), name="status"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(f"status = '{DeliveryStatus.PENDING}'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_pk: Mapped[int | None] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # An attempt in flight holds the delivery until then; a worker that died mid-attempt
    # leaves it to be tried again once this has passed.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: its answer's status, latency and at most 1 KB of
    its body; nothing of the user."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_pk: Mapped[int | None] = mapped_column(BigInteger, index=True)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _created()

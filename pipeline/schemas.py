"""Request and response models of the wire contract, with the seeds' examples.

These are the shapes agents send and receive; the gateway validates bodies
against them and publishes them in its OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pipeline.fields import (
    ExternalId,
    JsonObject,
    Label,
    StrictInt,
    Text,
    Timestamp,
    UserId,
    storable,
)
from pipeline.status import JobStatus, UserStatus


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ASH_TRAITS: dict[str, Any] = {
    "name": "Ash Lewis",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "personal_urls": ["https://ash.example.com", "https://fastino.ai"],
    "linkedin_url": "https://www.linkedin.com/in/ashlewis",
    "twitter_handle": "@ash_csx",
    "github_handle": "ash-lewis",
    "notes": "Founder/engineer; prefers concise comms",
}


class RegisterRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "traits": ASH_TRAITS,
                    "purpose": "Used by an AI calendar assistant to manage meetings and timezones",
                }
            ]
        },
    )

    user_id: UserId = Field(description="A unique id for the user.")
    traits: JsonObject | None = Field(
        default=None, description="Name, timezone, URLs, handles, notes...; deep-merged."
    )
    purpose: Text | None = Field(
        default=None, max_length=4000, description="The role of this personalization context."
    )


class RegisterResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "created_at": "2025-10-11T16:05:00Z",
                    "updated_at": "2025-10-11T16:05:00Z",
                    "status": "active",
                }
            ]
        }
    )

    user_id: UserId
    created_at: datetime = Field(description="When the user was first registered.")
    updated_at: datetime = Field(description="When the profile last changed.")
    status: UserStatus


class EndUserCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "usr_42af7c", "metadata": {"name": "Ash Lewis"}}]
        },
    )

    user_id: UserId
    metadata: JsonObject | None = Field(
        default=None, description="Stored on creation only; ignored if the user exists."
    )


class EndUserPatch(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"metadata": {"timezone": "Europe/Paris"}}]},
    )

    metadata: JsonObject | None = Field(default=None, description="Deep-merged.")
    purpose: Text | None = Field(default=None, max_length=4000)


class EndUser(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "metadata": {"name": "Ash Lewis"},
                    "purpose": None,
                    "status": "active",
                    "created_at": "2025-10-11T16:05:00Z",
                    "updated_at": "2025-10-11T16:05:00Z",
                }
            ]
        }
    )

    user_id: UserId
    metadata: dict[str, Any]
    purpose: str | None
    status: UserStatus
    created_at: datetime
    updated_at: datetime


class UserFootprint(BaseModel):
    """What Persona holds of one end user, store by store: the numbers an erasure brings
    to zero."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "postgres": {"chunks": 12, "items": 10, "summaries": 1, "users": 1},
                    "qdrant_points": 12,
                    "redis_keys": 1,
                }
            ]
        }
    )

    user_id: str
    postgres: dict[str, int] = Field(description="Rows per table; the user's own row is `users`.")
    qdrant_points: int = Field(description="Points of the user in the vector index.")
    redis_keys: int = Field(description="Keys under the user's prefix (caches, refresh marks).")


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "INVALID_REQUEST",
                        "message": "Missing required field: user_id",
                        "request_id": "01JAB3Y0K6Q5W7S9V2X4Z8M1NC",
                    }
                }
            ]
        }
    )

    error: ErrorBody


class EventIn(Strict):
    event_id: ExternalId = Field(description="Unique per user; a re-sent id is a duplicate.")
    type: Label = Field(default="event", description="email, message, calendar, note, ...")
    timestamp: Timestamp = Field(description="ISO 8601 with a zone, e.g. 2025-10-10T09:00:00Z")
    content: Text = Field(min_length=1, description="At most 64 KB (UTF-8).")
    metadata: JsonObject | None = None


class DocumentIn(Strict):
    document_id: ExternalId = Field(
        description="Unique per user; new content under the same id replaces the old."
    )
    content: Text = Field(min_length=1, description="At most 5 MB (UTF-8).")
    title: Text | None = Field(default=None, max_length=1000)
    type: Label = "document"
    timestamp: Timestamp | None = None
    metadata: JsonObject | None = None


class IngestRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "source": "gmail",
                    "events": [
                        {
                            "event_id": "evt_1",
                            "type": "email",
                            "timestamp": "2025-10-10T09:00:00Z",
                            "content": "Let's move stand-up to 2 PM starting next week.",
                        }
                    ],
                }
            ],
            # At least one item: the events or the documents hold one.
            "anyOf": [
                {"required": ["events"], "properties": {"events": {"minItems": 1}}},
                {"required": ["documents"], "properties": {"documents": {"minItems": 1}}},
            ],
        },
    )

    user_id: UserId
    source: Label = Field(default="api", description="Where the items come from (gmail, ...).")
    events: list[EventIn] = Field(default_factory=list)
    documents: list[DocumentIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> IngestRequest:
        if not self.events and not self.documents:
            raise ValueError("Nothing to ingest: send at least one event or document")
        return self


class Ingested(BaseModel):
    events: int
    documents: int


class IngestResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ingested": {"events": 1, "documents": 0},
                    "duplicates": 0,
                    "job_id": "01JAB3Y0K6Q5W7S9V2X4Z8M1NC",
                    "updated_at": "2025-10-11T16:05:05Z",
                }
            ]
        }
    )

    ingested: Ingested = Field(description="New items accepted (duplicates excluded).")
    duplicates: int = Field(description="Items already stored with the same id and content.")
    job_id: str = Field(description="Poll GET /jobs/{job_id} for progress.")
    updated_at: datetime


class JobCounts(BaseModel):
    items: int
    chunks: int
    duplicates: int


class JobProgress(BaseModel):
    """How far a long job (a reindex, a repair, a rebuild) has got."""

    phase: str = Field(description="What it is doing now, e.g. `build`, `catch-up`, `verify`.")
    done: int = Field(description="Items (or users, or summaries) done so far.")
    total: int = Field(description="How many there are to do, as counted when it started.")
    rate_per_s: float | None = Field(description="Done per second since it started.")
    eta_s: float | None = Field(description="Seconds left at that rate.")


class JobOut(BaseModel):
    job_id: str
    kind: str
    user_id: str | None = Field(description="The user the job is for; none for a reindex of all.")
    status: JobStatus
    counts: JobCounts
    attempts: int
    error: str | None
    timings: dict[str, float]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None = Field(
        default=None, description="A finished job's report (an erasure: what it removed)."
    )
    progress: JobProgress | None = Field(
        default=None, description="A long job's progress; none for ingest and deletion jobs."
    )


class JobList(BaseModel):
    """One page of `GET /jobs`, newest first."""

    jobs: list[JobOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; none on the last page."
    )


class ChunksRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "usr_42af7c", "query": "When is stand-up?", "top_k": 5}]
        },
    )

    user_id: UserId
    query: Text = Field(min_length=1, max_length=4000)
    top_k: StrictInt = Field(default=5, ge=1, le=100)
    freshness_days: StrictInt | None = Field(default=None, ge=0, le=36500)
    sources: list[Label] | None = None
    types: list[Label] | None = None


class ChunkOut(BaseModel):
    chunk_id: str
    text: str
    score: float
    event_id: str | None = None
    document_id: str | None = None
    source: str
    type: str
    timestamp: datetime | None


class ChunksResponse(BaseModel):
    user_id: str
    chunks: list[ChunkOut]


class QueryRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"user_id": "usr_42af7c", "question": "When does Ash prefer to schedule meetings?"}
            ]
        },
    )

    user_id: UserId
    question: Text = Field(min_length=1, max_length=4000)
    top_k: StrictInt = Field(default=5, ge=1, le=20, description="Sources the answer may draw on.")
    freshness_days: StrictInt | None = Field(default=None, ge=0, le=36500)


class QueryResponse(BaseModel):
    user_id: str
    answer: str
    sources: list[ChunkOut]


class DeleteRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"user_id": "usr_42af7c"}]}
    )

    user_id: UserId


class DeleteResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "job_id": "01JAB3Y0K6Q5W7S9V2X4Z8M1NC",
                    "status": "deleting",
                }
            ]
        }
    )

    user_id: str
    job_id: str = Field(description="Poll GET /jobs/{job_id}: its result is the erasure report.")
    status: Literal[UserStatus.DELETING] = UserStatus.DELETING


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("purpose must not be blank")
    return value


class SummaryQuery(BaseModel):
    """The query parameters of `GET /summary` (seed 002)."""

    user_id: UserId = Field(description="Unique identifier of the user.")
    purpose: Annotated[str, AfterValidator(storable), AfterValidator(_has_text)] = Field(
        default="general",
        min_length=1,
        max_length=200,
        description="general, persona, work-style, decision-style, preferences, "
        "schedule-context, communication-style, or any text to focus on.",
    )
    max_chars: int = Field(
        default=1000, ge=50, le=5000, description="Longest summary returned (50 to 5,000)."
    )
    freshness_days: int | None = Field(
        default=None, ge=0, le=36500, description="Only data of the last N days (UTC)."
    )


class SummaryResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "generated_at": "2025-10-11T16:05:00Z",
                    "purpose": "work-style",
                    "summary": "Ash Lewis is a founder-engineer who prefers concise, async "
                    "communication. Works best in deep-focus blocks (9-12 PT) and schedules "
                    "meetings after 1 PM.",
                }
            ]
        }
    )

    user_id: str
    generated_at: str = Field(description="ISO 8601 UTC time the summary text was generated.")
    purpose: str
    summary: str

"""The states a row can be in, named once.

The tables' check constraints, the wire's enums and every comparison in the
code use these members, so a state cannot be spelled two ways. They are
`StrEnum`s: a value read back from PostgreSQL (a plain `str`) compares equal
to its member.
"""

from __future__ import annotations

from enum import StrEnum


class UserStatus(StrEnum):
    """An end user: `deleting` from the accepted `/delete` until the erasure removes the row."""

    ACTIVE = "active"
    DELETING = "deleting"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def finished(cls) -> tuple[JobStatus, ...]:
        """States a job never leaves: a redelivered message finds it done."""
        return (cls.SUCCEEDED, cls.FAILED)


class JobKind(StrEnum):
    """What a job does; the sweeper re-publishes a lost job to the task of its kind."""

    INGEST = "ingest"
    DELETE = "delete"
    REINDEX = "reindex"  # a new generation of the index, or users re-embedded in place
    VERIFY = "verify"  # the index compared with the chunk rows, and repaired
    REBUILD = "rebuild"  # stored summaries computed again


class GenerationState(StrEnum):
    """An index generation: `building` until its reindex switches it in (then `active`,
    exactly one at a time), `retired` when another took its place, `dropped` once its
    collection and rows are gone; `failed` if its reindex gave up."""

    BUILDING = "building"
    ACTIVE = "active"
    RETIRED = "retired"
    DROPPED = "dropped"
    FAILED = "failed"


class ItemKind(StrEnum):
    EVENT = "event"
    DOCUMENT = "document"


class ItemState(StrEnum):
    """An accepted item is `pending` until the job that indexes it has written its chunks."""

    PENDING = "pending"
    INDEXED = "indexed"


class SummarySource(StrEnum):
    """What wrote a stored summary: `fallback` is the extractive text standing in for an
    LLM that failed, recomputed after `summaries.llm_retry_s`."""

    EXTRACTIVE = "extractive"
    LLM = "llm"
    FALLBACK = "fallback"


class DeliveryStatus(StrEnum):
    """A webhook delivery: `pending` until a 2xx (`succeeded`) or its last retry (`failed`)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EventType(StrEnum):
    """What the organization's endpoints can subscribe to."""

    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    USER_ERASED = "user.erased"
    SUMMARY_UPDATED = "summary.updated"


def one_of(column: str, states: type[StrEnum]) -> str:
    """The SQL of a check constraint keeping `column` to the members of `states`."""
    values = ", ".join(f"'{member.value}'" for member in states)
    return f"{column} IN ({values})"

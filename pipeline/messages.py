"""The queue contract shared by the gateway (producer) and the workers (consumers).

Queues are named by workload so each can be scaled alone; routing lives here,
as data, so the gateway can send tasks by name without importing `workers`.
Payloads are ids, never objects: the worker re-reads state when it runs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.config import Settings
from pipeline.errors import PersonaError, error_from
from pipeline.schemas import ChunksRequest, QueryRequest, SummaryQuery
from pipeline.status import JobKind


class Queue(StrEnum):
    INGEST = "ingest"
    SUMMARIES = "summaries"
    RETRIEVAL = "retrieval"
    MAINTENANCE = "maintenance"
    WEBHOOKS = "webhooks"
    REPROCESS = "reprocess"


class Task(StrEnum):
    """Task names, stable across releases: messages in flight carry them."""

    HEALTH_PING = "persona.health.ping"
    INGEST = "persona.ingest.run_job"
    SWEEP = "persona.maintenance.sweep"
    SEARCH = "persona.retrieval.search"
    ANSWER = "persona.retrieval.answer"
    FOOTPRINT = "persona.maintenance.footprint"
    ERASE = "persona.maintenance.erase"
    SUMMARIZE = "persona.summaries.compute"
    SUMMARY_CHECK = "persona.summaries.settle"
    WEBHOOKS_DUE = "persona.webhooks.due"
    WEBHOOK_DELIVER = "persona.webhooks.deliver"
    REINDEX = "persona.reprocess.reindex"
    VERIFY = "persona.reprocess.verify"
    REBUILD = "persona.reprocess.rebuild"
    VERIFY_TICK = "persona.reprocess.verify_tick"
    DROP_GENERATIONS = "persona.reprocess.drop"


ROUTES: dict[str, Queue] = {
    Task.HEALTH_PING: Queue.MAINTENANCE,
    Task.INGEST: Queue.INGEST,
    Task.SWEEP: Queue.MAINTENANCE,
    Task.SEARCH: Queue.RETRIEVAL,
    Task.ANSWER: Queue.RETRIEVAL,
    Task.FOOTPRINT: Queue.MAINTENANCE,
    Task.ERASE: Queue.MAINTENANCE,
    # A cold summary is a read someone waits for: it runs beside /chunks, not behind refreshes.
    Task.SUMMARIZE: Queue.RETRIEVAL,
    Task.SUMMARY_CHECK: Queue.SUMMARIES,
    # A slow or dead receiver holds up nothing but other deliveries.
    Task.WEBHOOKS_DUE: Queue.WEBHOOKS,
    Task.WEBHOOK_DELIVER: Queue.WEBHOOKS,
    # Hours of background work, in short steps, behind nothing live.
    Task.REINDEX: Queue.REPROCESS,
    Task.VERIFY: Queue.REPROCESS,
    Task.REBUILD: Queue.REPROCESS,
    Task.VERIFY_TICK: Queue.REPROCESS,
    Task.DROP_GENERATIONS: Queue.REPROCESS,
}

DIRECT_READS: frozenset[str] = frozenset(t for t, q in ROUTES.items() if q == Queue.RETRIEVAL)
"""The reads a worker may answer directly, off the queue (`workers.reads`): the retrieval
queue's tasks, which someone waits for."""

JOB_TASKS: dict[JobKind, Task] = {
    JobKind.INGEST: Task.INGEST,
    JobKind.DELETE: Task.ERASE,
    JobKind.REINDEX: Task.REINDEX,
    JobKind.VERIFY: Task.VERIFY,
    JobKind.REBUILD: Task.REBUILD,
}
"""The task that runs a job of each kind: what the sweeper re-publishes a lost job to."""


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings shared by producers (the gateway) and consumers (the workers).

    Plain data, so this module stays free of Celery: each side applies it to its
    own app with `app.conf.update(...)`.
    """
    url = settings.require_redis_url()
    return {
        "broker_url": url,
        "result_backend": url,
        "task_default_queue": Queue.MAINTENANCE.value,
        "task_routes": {name: {"queue": queue.value} for name, queue in ROUTES.items()},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # At-least-once: ack after the work, redeliver if the worker dies mid-task.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Redis redelivers an unacked message after this; it must outlive the longest task.
        "broker_transport_options": {"visibility_timeout": settings.celery.visibility_timeout_s},
        "result_backend_transport_options": {
            "visibility_timeout": settings.celery.visibility_timeout_s
        },
        "worker_concurrency": settings.celery.worker_concurrency,
        "result_expires": 3600,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "task_track_started": True,
        # Task events, for Flower or a Celery exporter, where asked for (`workers.metrics`).
        "worker_send_task_events": settings.celery.task_events,
        "task_send_sent_event": settings.celery.task_events,
        "timezone": "UTC",
    }


class Message(BaseModel):
    """Base of every task payload: unknown fields are refused when consumed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(Message):
    note: str = ""


class IngestJob(Message):
    """Index the pending items of `job_id`, and of the jobs in `more` (accepted in the
    same commit, or put back in the queue together); the job rows hold everything else."""

    job_id: str
    more: tuple[str, ...] = ()

    @property
    def job_ids(self) -> list[str]:
        return [self.job_id, *self.more]

    @classmethod
    def of(cls, job_ids: list[str]) -> IngestJob:
        return cls(job_id=job_ids[0], more=tuple(job_ids[1:]))


class Sweep(Message):
    pass


class LongJob(Message):
    """One step of a long job (reindex, verify, rebuild); its row holds the checkpoint."""

    job_id: str


class Upkeep(Message):
    """A periodic chore with nothing to say: the scheduled verify, dropping generations."""


class SearchChunks(Message):
    org_id: int
    request: ChunksRequest


class AnswerQuestion(Message):
    org_id: int
    request: QueryRequest


class Footprint(Message):
    """Count what a user holds in every store; by row id, which outlives the row, so an
    erased user can be counted too."""

    org_id: int
    user_pk: int


class EraseJob(Message):
    """Erase one user everywhere; the job row names the user (its user_pk)."""

    job_id: str


class Summarize(Message):
    """Compute (or find) one summary now: the cold path of `GET /summary`."""

    org_id: int
    request: SummaryQuery


class SummaryCheck(Message):
    """The delayed check that refreshes a user's summaries once their ingestion settled."""

    user_pk: int
    claimed: bool = False  # a retry of a check that already won its claim


def ok_reply(result: Any) -> dict[str, Any]:
    return {"ok": result}


def error_reply(exc: PersonaError) -> dict[str, Any]:
    """A domain error crosses the queue as data; the caller raises it again."""
    return {"error": {"code": exc.code, "message": exc.message}}


def unwrap_reply(reply: dict[str, Any]) -> Any:
    if "error" in reply:
        raise error_from(reply["error"]["code"], reply["error"]["message"])
    return reply["ok"]


class WebhooksDue(Message):
    """Lease the webhook deliveries due now and send one attempt message for each."""


class WebhookAttempt(Message):
    """One attempt of one delivery; the number makes a duplicate message a no-op."""

    delivery_id: int
    attempt: int

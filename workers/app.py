"""The one Celery app of the workers: `celery -A workers.app worker -Q <queues>`.

Its settings, routing included, come from `pipeline.messages.celery_config`,
the contract the gateway's producer applies too. `runtime()` is the process's
warm state (engine, model, index), built on first use. Every task answers in
the one reply format (`ok_reply`/`error_reply`), which the gateway unwraps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from celery import Celery, signals
from celery import Task as CeleryTask
from sqlalchemy import select

from pipeline import context, heartbeat, jobs, telemetry
from pipeline.config import Settings, get_settings
from pipeline.db.engine import session_scope
from pipeline.db.models import Job
from pipeline.errors import PersonaError, Retryable
from pipeline.logs import configure_logging
from pipeline.messages import Task, celery_config, error_reply, ok_reply
from pipeline.runtime import Runtime

T = TypeVar("T")
log = logging.getLogger("persona.worker")
_stopping = threading.Event()

TASK_MODULES = [
    "workers.tasks.health",
    "workers.tasks.ingest",
    "workers.tasks.retrieval",
    "workers.tasks.maintenance",
    "workers.tasks.summaries",
    "workers.tasks.webhooks",
    "workers.tasks.reprocess",
    "workers.reads",  # no tasks: the direct read server, started with the worker
    "workers.metrics",  # no tasks: task counts and durations, from Celery's signals
]


def create_celery(settings: Settings) -> Celery:
    app = Celery("persona", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    app.conf.beat_schedule = {
        "sweep-lost-jobs": {"task": Task.SWEEP, "schedule": settings.ingest.sweep_interval_s},
        "deliver-due-webhooks": {"task": Task.WEBHOOKS_DUE, "schedule": settings.webhooks.poll_s},
        "drop-retired-generations": {
            "task": Task.DROP_GENERATIONS,
            "schedule": settings.ingest.sweep_interval_s,
        },
    }
    if settings.reindex.verify_every_s > 0:
        app.conf.beat_schedule["verify-index"] = {
            "task": Task.VERIFY_TICK,
            "schedule": settings.reindex.verify_every_s,
        }
    return app


@cache
def runtime() -> Runtime:
    return Runtime(get_settings())


@signals.worker_ready.connect
def warm_up(**_: object) -> None:
    """Load the model and open the index before the first task, not during it: the first
    job would otherwise pay a second or two, and a locked index should fail loudly now.
    Then say this worker is alive (`pipeline.heartbeat`) for as long as it is."""
    runtime().warm_up()
    heartbeat.keep_beating(runtime().redis, runtime().worker_id, _stopping)


@signals.worker_shutdown.connect
def stop_beating(**_: object) -> None:
    _stopping.set()


class _NoResults(logging.Filter):
    """Task results carry user content (chunks, answers, summaries): Celery's line for a
    task that succeeded keeps its name, id and time, and drops its result."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict) and "return_value" in record.args:
            record.args = {**record.args, "return_value": "(result not logged)"}
        return True


@signals.before_task_publish.connect
def send_context(headers: dict[str, Any], **_: object) -> None:
    """A task this worker sends (a retry, a follow-up) goes on with the current log context."""
    headers.setdefault(context.HEADER, context.current())


@signals.task_prerun.connect
def restore_context(task: CeleryTask, **_: object) -> None:
    """A task's log lines carry the ids of the request that sent it (`pipeline.context`)."""
    context.start(context.decode(getattr(task.request, context.HEADER, None)))


@signals.task_postrun.connect
def clear_context(**_: object) -> None:
    context.clear()


configure_logging(get_settings().log_level, get_settings().log_format)
logging.getLogger("celery.app.trace").addFilter(_NoResults())
if telemetry.setup("persona-worker"):
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    CeleryInstrumentor().instrument()  # a task's span continues the trace in its headers
app = create_celery(get_settings())


def perform_job(task: CeleryTask, job_id: str, work: Callable[[Runtime, str], T]) -> T:
    """Run one job's pipeline function as a bound task with `max_retries`.

    `Retryable` is retried with exponential backoff (at most a minute apart) until
    the task's retries are spent, then the job is failed; any other error fails the
    job at once: retrying would fail the same way and hold the queue.
    """
    _bind_job(job_id)
    try:
        return work(runtime(), job_id)
    except Retryable as exc:
        if task.request.retries >= (task.max_retries or 0):
            jobs.fail_now(runtime().engine, job_id, f"gave up after retries: {exc.message}")
            raise
        raise task.retry(exc=exc, countdown=min(2**task.request.retries, 60)) from exc
    except Exception as exc:
        # The driver's text stays in the log (without statement parameters); the client
        # reads what happened, not how a library phrased it.
        log.exception("job %s failed", job_id)
        jobs.fail_now(runtime().engine, job_id, f"internal error ({type(exc).__name__})")
        raise


def _bind_job(job_id: str) -> None:
    """The job's ids on this task's log lines: the sweeper's re-sends carry no request's."""
    with session_scope(runtime().engine) as session:
        owner = session.execute(select(Job.org_id, Job.user_pk).where(Job.id == job_id)).first()
    context.bind(job_id=job_id)
    if owner is not None:
        context.bind(org=owner.org_id, user_pk=owner.user_pk)


def reply(read: Callable[[], Any]) -> dict[str, Any]:
    """A task's answer: the result, or the domain error as data (raised again by the
    gateway). Anything else is a bug and fails the task."""
    try:
        return ok_reply(read())
    except PersonaError as exc:
        return error_reply(exc)

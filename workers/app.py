"""The one Celery app of the workers: `celery -A workers.app worker -Q <queues>`.

Its settings, routing included, come from `pipeline.messages.celery_config`,
the contract the gateway's producer applies too. `runtime()` is the process's
warm state (engine, model, index), built on first use.
"""

from __future__ import annotations

from functools import cache

from celery import Celery, signals

from pipeline.config import Settings, get_settings
from pipeline.logs import configure_logging
from pipeline.messages import Task, celery_config
from pipeline.runtime import Runtime

TASK_MODULES = [
    "workers.tasks.health",
    "workers.tasks.ingest",
    "workers.tasks.retrieval",
    "workers.tasks.maintenance",
    "workers.tasks.summaries",
]


def create_celery(settings: Settings) -> Celery:
    app = Celery("persona", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    app.conf.beat_schedule = {
        "sweep-lost-jobs": {"task": Task.SWEEP, "schedule": settings.ingest.sweep_interval_s},
    }
    return app


@cache
def runtime() -> Runtime:
    return Runtime(get_settings())


@signals.worker_ready.connect
def warm_up(**_: object) -> None:
    """Load the model and open the index before the first task, not during it: the first
    job would otherwise pay a second or two, and a locked index should fail loudly now."""
    runtime().warm_up()


configure_logging(get_settings().log_level)
app = create_celery(get_settings())

"""The one Celery app of the workers: `celery -A workers.app worker -Q <queues>`.

Its settings, routing included, come from `pipeline.messages.celery_config`,
the contract the gateway's producer applies too.
"""

from __future__ import annotations

from celery import Celery

from pipeline.config import Settings, get_settings
from pipeline.logs import configure_logging
from pipeline.messages import celery_config

TASK_MODULES = ["workers.tasks.health"]


def create_celery(settings: Settings) -> Celery:
    app = Celery("persona", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    return app


configure_logging(get_settings().log_level)
app = create_celery(get_settings())

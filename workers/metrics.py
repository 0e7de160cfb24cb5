"""The worker's task metrics: every task by name and outcome, with its duration.

Celery's own signals mark a task's start and end, so no task body knows about metrics.
The pipeline's metrics (`pipeline.metrics`: the model's batches, items indexed, index
latency) are counted where they happen. Under `persona run` every process writes its
metrics to PROMETHEUS_MULTIPROC_DIR and the gateway's `GET /metrics` serves them all; in
the distributed shape a worker serves its own on PERSONA_METRICS_PORT.

With PERSONA_CELERY_TASK_EVENTS, Celery's task events go out too, so Flower or a Celery
exporter can watch the same workers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram, start_http_server

from pipeline.config import get_settings

log = logging.getLogger("persona.metrics")

TASKS = Counter("persona_tasks", "Tasks run, by name and outcome", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "persona_task_seconds",
    "Time a task ran, by name",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

_started: dict[str, float] = {}
_lock = threading.Lock()


@signals.task_prerun.connect
def _start(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        with _lock:
            _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _end(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    with _lock:
        began = _started.pop(task_id, None) if task_id is not None else None
    name = getattr(task, "name", None) or "unknown"
    TASKS.labels(name, (state or "unknown").lower()).inc()
    if began is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - began)


@signals.worker_ready.connect
def serve_metrics(**_: object) -> None:
    """Serve this process's metrics on PERSONA_METRICS_PORT, where no shared folder
    gathers them for the gateway (the distributed shape)."""
    port = get_settings().metrics.port
    if port is None or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    start_http_server(port)
    log.info("serving metrics on port %d", port)

"""The state of the system as Prometheus gauges, read when a scrape asks.

Queue depths, jobs not finished and the oldest queued one, and the active index
generation belong to no process: they are read from Redis and PostgreSQL at scrape
time, so they are never stale and cost nothing between scrapes. The gateway's
`GET /metrics` serves them beside every process's own metrics (`pipeline.metrics`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from pipeline.db.engine import read_scope
from pipeline.db.models import Job
from pipeline.generations import active
from pipeline.messages import Queue
from pipeline.status import JobStatus

log = logging.getLogger("persona.metrics")
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)


class SystemState(Collector):
    """Gauges read at scrape time: each queue's depth in the broker, jobs by state, the
    age of the oldest queued job, and the active index generation. A store that does not
    answer leaves its gauges out of that scrape (and says so in the log) rather than
    failing the scrape: the process metrics are worth having most when a store is down."""

    def __init__(self, engine: Engine, broker: redis.Redis) -> None:
        self.engine, self.broker = engine, broker

    def collect(self) -> Iterator[Metric]:
        yield from self._queues()
        yield from self._jobs()

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "persona_queue_depth", "Messages waiting in a broker queue", labels=["queue"]
        )
        try:
            pipe = self.broker.pipeline(transaction=False)
            for queue in Queue:
                pipe.llen(queue.value)
            for queue, length in zip(Queue, pipe.execute(), strict=True):
                depth.add_metric([queue.value], float(length))
        except redis.RedisError as exc:
            log.warning("queue depths not read: %s", type(exc).__name__)
            return
        yield depth

    def _jobs(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("persona_jobs", "Jobs not finished, by state", labels=["state"])
        oldest = GaugeMetricFamily(
            "persona_oldest_queued_job_seconds", "Age of the oldest job still queued"
        )
        generation = GaugeMetricFamily(
            "persona_active_generation", "The index generation every read uses (its id)"
        )
        try:
            with read_scope(self.engine) as connection:
                # Pending jobs only: the partial index `ix_jobs_pending` holds just them, so
                # a scrape costs the backlog, not the history (finished jobs are counted
                # as they finish: `persona_tasks`).
                counts = dict(
                    connection.execute(
                        select(Job.status, func.count())
                        .where(Job.status.in_(PENDING))
                        .group_by(Job.status)
                    ).all()
                )
                first = connection.execute(
                    select(func.min(Job.created_at)).where(Job.status == JobStatus.QUEUED)
                ).scalar_one()
                current = active(connection)
        except Exception as exc:
            log.warning("job gauges not read: %s", type(exc).__name__)
            return
        for state in PENDING:
            jobs.add_metric([state.value], float(counts.get(state.value, 0)))
        oldest.add_metric([], max(0.0, time.time() - first.timestamp()) if first else 0.0)
        yield jobs
        yield oldest
        if current is not None:
            generation.add_metric([], float(current.id))
            yield generation

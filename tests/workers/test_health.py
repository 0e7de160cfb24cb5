"""A real worker process consumes its queues and answers through the result backend."""

from __future__ import annotations

from celery import Celery

from api_gateway.dispatch import call
from pipeline.messages import Ping, Queue, Task, celery_config


def test_ping_reaches_a_worker_process(producer: Celery, worker) -> None:
    answer = call(producer, Task.HEALTH_PING, Ping(note="hello"), timeout_s=30)
    assert answer["note"] == "hello"
    assert answer["pid"] == worker.proc.pid


def test_worker_listens_on_every_queue(producer: Celery, worker) -> None:
    node = call(producer, Task.HEALTH_PING, Ping(), timeout_s=30)["node"]
    replies = producer.control.inspect(destination=[node], timeout=5).active_queues() or {}
    assert list(replies) == [node]
    queues = {q["name"] for qs in replies.values() for q in qs}
    assert {q.value for q in Queue} <= queues


def test_reliable_delivery_settings(services) -> None:
    from pipeline.config import Settings

    settings = Settings(redis={"url": services.redis_url})
    conf = celery_config(settings)
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    visibility = conf["broker_transport_options"]["visibility_timeout"]
    assert visibility > settings.ingest.job_time_limit_s, "no redelivery of a running job"

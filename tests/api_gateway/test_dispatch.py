"""The gateway's RPC over the queue: a worker that comes too late is a 503, not a 500.

A read's message expires when the gateway stops waiting, but the gateway notices
its deadline only between waits (up to a second late), so a worker that picks
the message up just after it expired answers "revoked" while the gateway still
listens. That answer must read as what it is: no worker answered in time.
"""

from __future__ import annotations

import json
import threading

import pytest
import redis

from api_gateway.dispatch import call, create_producer
from pipeline.config import Settings
from pipeline.errors import Unavailable
from pipeline.messages import Ping, Queue, Task
from tests.conftest import System


def test_a_worker_that_finds_the_message_expired_reads_as_unavailable(make_system) -> None:
    deployment: System = make_system()  # its own Redis database, and no worker
    producer = create_producer(Settings(redis={"url": deployment.redis_url}))
    broker = redis.Redis.from_url(deployment.redis_url)

    def late_worker() -> None:
        # What a Celery worker does with a message whose `expires` has passed.
        _, raw = broker.brpop([Queue.MAINTENANCE.value], timeout=10)
        task_id = json.loads(raw)["headers"]["id"]
        producer.backend.mark_as_revoked(task_id, reason="expired")

    thread = threading.Thread(target=late_worker)
    thread.start()
    try:
        with pytest.raises(Unavailable, match="No worker answered within 5s"):
            call(producer, Task.HEALTH_PING, Ping(), timeout_s=5)
    finally:
        thread.join()
        producer.close()

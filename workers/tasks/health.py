"""A ping that proves a worker consumes its queue and answers through the backend
(`bench.query` times the RPC hop with it)."""

from __future__ import annotations

import os
from typing import Any

from celery import Task as CeleryTask

from pipeline.messages import Ping, Task
from workers.app import app, reply


@app.task(name=Task.HEALTH_PING, bind=True)
def ping(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = Ping.model_validate(payload)
    return reply(lambda: {"note": message.note, "node": self.request.hostname, "pid": os.getpid()})

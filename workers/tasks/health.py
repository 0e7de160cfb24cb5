"""A ping that proves a worker consumes its queue and can answer through the backend."""

from __future__ import annotations

import os
from typing import Any

from celery import Task as CeleryTask

from pipeline.messages import Ping, Task, ok_reply
from workers.app import app


@app.task(name=Task.HEALTH_PING, bind=True)
def ping(self: CeleryTask, **payload: Any) -> dict[str, Any]:
    message = Ping.model_validate(payload)
    return ok_reply({"note": message.note, "node": self.request.hostname, "pid": os.getpid()})

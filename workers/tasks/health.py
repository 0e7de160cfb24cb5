"""A ping that proves a worker consumes its queue and can answer through the backend."""

from __future__ import annotations

import os
import socket
from typing import Any

from pipeline.messages import Ping, Task
from workers.app import app


@app.task(name=Task.HEALTH_PING)
def ping(**payload: Any) -> dict[str, Any]:
    message = Ping.model_validate(payload)
    return {"ok": True, "note": message.note, "host": socket.gethostname(), "pid": os.getpid()}

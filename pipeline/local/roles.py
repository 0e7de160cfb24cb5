"""`persona serve ROLE`: one process of the distributed shape, started with the command
line `persona run` gives its own child of that role.

Compose (`deploy/compose.yaml`) and Kubernetes (`deploy/kubernetes/`) run `persona serve
gateway`, `persona serve worker QUEUE...` and `persona serve beat`, so the gateway's,
a worker's and beat's arguments are written once, in `pipeline.local.supervisor`, and
read from the same settings (`PERSONA_*`) everywhere; `tests/test_deploy.py` holds the
manifests to these commands.
"""

from __future__ import annotations

import os
from enum import StrEnum

from pipeline.config import Settings
from pipeline.local.supervisor import beat_command, gateway_command, worker_command
from pipeline.messages import Queue


class Role(StrEnum):
    GATEWAY = "gateway"
    WORKER = "worker"
    BEAT = "beat"


def role_command(settings: Settings, role: Role, queues: list[str] | None = None) -> list[str]:
    """The argv of one role, as `persona run` starts it; a worker on `queues` (names of
    `Queue`), or on every queue when none is named."""
    if queues and role is not Role.WORKER:
        raise ValueError(f"only a worker takes queues, not the {role}")
    unknown = sorted(set(queues or ()) - {q.value for q in Queue})
    if unknown:
        raise ValueError(f"no such queue: {', '.join(unknown)} (one of {', '.join(Queue)})")
    if role is Role.GATEWAY:
        return gateway_command(settings)
    if role is Role.WORKER:
        return worker_command(settings, queues or None)
    return beat_command(settings)


def serve(settings: Settings, role: Role, queues: list[str] | None = None) -> None:
    """Replace this process by the role's (same pid: PID 1 of a container stays the one
    that receives SIGTERM). Beat keeps its schedule in DATA_DIR, made here if missing."""
    argv = role_command(settings, role, queues)
    if role is Role.BEAT:
        settings.data_dir.resolve().mkdir(parents=True, exist_ok=True)
    os.execv(argv[0], argv)  # noqa: S606 (our own argv, no shell)

"""Reads served directly: the gateway's `/chunks`, `/query` and cold summaries, answered
over HTTP by the worker process that holds the index, without the task queue.

The queue is for work that must outlive a crash (an ingest job's message waits in
Redis until a worker acknowledges it). A read is answered while its caller waits, so
its trip through the queue (publish, consume, store the result, fetch and forget it)
is only cost, and it waited for a free task thread behind indexing jobs. Here a read
is one HTTP request to the worker: the same task functions answer it in the same
reply format (`workers.app.reply`), on threads of their own (as many as the worker's
task threads, `celery.worker_concurrency`).

Where it listens (`reads.listen`): a Unix socket, mode 0600 in a 0700 folder, so only
the user the system runs as can ask (`persona run` puts it in DATA_DIR); or a TCP
address for the distributed shape, where every request must carry the bearer token
`reads.token`. The gateway falls back to the queue whenever nothing answers there
(`api_gateway.dispatch`), so a worker restarting costs latency, not reads.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from celery import signals
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pipeline import context, telemetry
from pipeline.config import Settings, get_settings, unix_socket_path
from pipeline.messages import DIRECT_READS, Task
from workers.tasks import retrieval, summaries

log = logging.getLogger("persona.reads")

READS: dict[str, Callable[..., dict[str, Any]]] = {
    Task.SEARCH: retrieval.search.run,
    Task.ANSWER: retrieval.answer.run,
    Task.SUMMARIZE: summaries.compute.run,
}
"""The reads a worker answers directly: the tasks of the retrieval queue, by name."""
assert set(READS) == DIRECT_READS, "every direct read has its handler"
MAX_SOCKET_PATH = 107  # bytes of sun_path, less its terminating NUL (Linux)


def create_app(settings: Settings) -> ASGIApp:
    limiter = anyio.CapacityLimiter(settings.celery.worker_concurrency)
    token = settings.reads.token
    expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    async def read(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            return JSONResponse({"detail": "a valid bearer token is required"}, status_code=401)
        handler = READS.get(request.path_params["task"])
        if handler is None:
            return JSONResponse({"detail": "no such read"}, status_code=404)
        payload = await request.json()
        context.start(context.decode(request.headers.get(context.HEADER)))  # this request's
        answer = await anyio.to_thread.run_sync(lambda: handler(**payload), limiter=limiter)
        return JSONResponse(answer)

    app = Starlette(routes=[Route("/reads/{task}", read, methods=["POST"])])
    if telemetry.setup("persona-worker"):  # a read's span continues the request's trace
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        return OpenTelemetryMiddleware(app)
    return app


def bind(listen: str) -> socket.socket:
    """The listening socket `listen` names: a Unix socket only this user may open (a
    stale one left by a dead worker is replaced), or a TCP address."""
    if (where := unix_socket_path(listen)) is not None:
        path = Path(where)
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise ValueError(f"the reads socket path is longer than {MAX_SOCKET_PATH} bytes")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # made by someone else first (the metrics folder's maker)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # 0600 from the start: never a moment others may connect
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
    else:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"reads.listen is unix:PATH or HOST:PORT, not {listen!r}")
        sock = socket.create_server((host.strip("[]"), int(port)))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ReadServer:
    """The worker's read server on a thread of its own, started once the worker is
    ready and stopped with it."""

    def __init__(self, settings: Settings) -> None:
        assert settings.reads.listen, "reads.listen says where to serve"
        self.listen = settings.reads.listen
        config = uvicorn.Config(
            create_app(settings),
            log_level="warning",
            access_log=False,
            lifespan="off",
            log_config=None,  # the worker's logging, not uvicorn's own
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = bind(self.listen)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="persona-reads", daemon=True
        )
        self._thread.start()
        log.info("serving reads directly on %s", self.listen)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if (where := unix_socket_path(self.listen)) is not None:
            Path(where).unlink(missing_ok=True)


_serving: list[ReadServer] = []


@signals.worker_ready.connect
def start_serving(**_: object) -> None:
    """Serve reads directly once the worker is up, where `reads.listen` says; a socket that
    cannot be bound leaves reads on the queue, and says why."""
    settings = get_settings()
    if not settings.reads.listen:
        return
    server = ReadServer(settings)
    try:
        server.start()
    except (OSError, ValueError) as exc:
        log.warning("reads stay on the queue: cannot serve on %s: %s", settings.reads.listen, exc)
        return
    _serving.append(server)


@signals.worker_shutdown.connect
def stop_serving(**_: object) -> None:
    while _serving:
        _serving.pop().stop()

"""A real local HTTP server that answers from a script, for the SDK's retry tests.

Rate limits and outages are the edge of the world: a gateway cannot be made to
answer 429 or 503 on cue. This stand-in answers each request with the next
`(status, headers, body)` of its script (the last one repeats) and records when
each request arrived, monotonic seconds, so a test can see what a client waited.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Arrival:
    method: str
    path: str
    at: float
    headers: dict[str, str]


class ScriptedServer:
    def __init__(self, script: list[Answer]) -> None:
        self.script = script
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.answer(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            number = len(self.arrivals)
            arrival = Arrival(handler.command, handler.path, time.monotonic(), headers)
            self.arrivals.append(arrival)
            status, extra, body = self.script[min(number, len(self.script) - 1)]
        raw = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **extra}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def scripted_server(script: list[Answer]) -> Iterator[ScriptedServer]:
    server = ScriptedServer(script)
    threading.Thread(target=server._server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.close()


def envelope(code: str, message: str, request_id: str = "01JAB3Y0K6Q5W7S9V2X4Z8M1NC") -> dict:
    return {"error": {"code": code, "message": message, "request_id": request_id}}

"""A local OpenAI-compatible chat-completions server, for the LLM paths of answers and summaries.

It is a real HTTP server on a free port, so worker processes reach it exactly as
they would reach vLLM or Ollama. A test sets `mode` to make it answer, fail with
a 500, or stall past the client's timeout, and reads `requests` to see what the
system sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str]


def echo_first_source(body: dict[str, Any]) -> str:
    """A deterministic "model": cites the first numbered source of the prompt."""
    user = body["messages"][-1]["content"]
    for line in user.splitlines():
        if line.startswith("[1]"):
            return f"GENERATED: {line[3:].strip()} [1]"
    return "GENERATED: the sources do not say."


class FakeOpenAI:
    def __init__(self) -> None:
        self.mode = "ok"  # ok | error | slow
        self.stall_s = 30.0
        self.reply: Reply = echo_first_source
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()  # ends every stall
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "unknown path"}})
                elif fake.mode == "error":
                    self._send(500, {"error": {"message": "model crashed"}})
                else:
                    if fake.mode == "slow":  # a model that answers late, or at shutdown
                        fake._closed.wait(fake.stall_s)
                    self._send(200, _completion(body, fake.reply(body)))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def serve(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.serve()
    try:
        yield server
    finally:
        server.close()

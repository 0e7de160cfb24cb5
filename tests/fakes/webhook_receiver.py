"""A real local HTTP receiver of Persona's webhook deliveries, for the outbound tests.

Every delivery is verified with the `standardwebhooks` library and the secret of
the endpoint it was made for, and kept with what was seen: the `webhook-id`,
whether the signature verified, the parsed body. A test sets how the receiver
answers: fail the first `fail_first` deliveries with a 500, or hold a delivery
until `release` is set (a receiver that hangs while a worker dies).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    verified: bool
    body: dict[str, Any]
    answered: int

    @property
    def type(self) -> str:
        return str(self.body.get("type"))


class Receiver:
    def __init__(self) -> None:
        self.secret = ""  # set once the endpoint exists
        self.fail_first = 0
        self.hold_first = False
        self.release = threading.Event()
        self.deliveries: list[Delivery] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.answer(self, raw)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def answer(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            Webhook(self.secret).verify(raw, headers, json_parse=False)
            verified = True
        except WebhookVerificationError:
            verified = False
        with self.arrived:
            number = len(self.deliveries)
            status = 500 if number < self.fail_first else 200
            if self.hold_first and number == 0:
                status = 0  # held, never answered by this request
            self.deliveries.append(
                Delivery(headers.get("webhook-id", ""), verified, json.loads(raw), status)
            )
            self.arrived.notify_all()
        if status == 0:
            self.release.wait(60)
            return
        handler.send_response(status)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    def of_type(self, event_type: str) -> list[Delivery]:
        with self.arrived:
            return [d for d in self.deliveries if d.type == event_type]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    threading.Thread(target=receiver._server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        receiver.close()

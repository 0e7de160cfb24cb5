"""uvicorn's HTTP protocol, with its own answer to an unparsable request in the envelope.

A request line or header the parser rejects (a bad Content-Length, a method it
does not know) never reaches the application; uvicorn answers it itself with a
plain-text 400. This protocol answers it like every other error: the
contract's envelope, with a request id in the body and in `X-Request-Id`.
`persona run` and the tests start the gateway with `--http` naming it.
"""

from __future__ import annotations

import json

from ulid import ULID
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MESSAGE = "Malformed HTTP request: its request line or headers could not be parsed"


class EnvelopeProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        request_id = str(ULID())
        error = {"code": "INVALID_REQUEST", "message": MESSAGE, "request_id": request_id}
        body = json.dumps({"error": error}).encode()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"x-request-id: " + request_id.encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

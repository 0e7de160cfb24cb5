"""ASGI middleware: a request id and the rate-limit headers on every response, and a hard
cap on body size.

Both are plain ASGI (not BaseHTTPMiddleware) so they see every response,
including the 500 rendered for an unexpected exception, and cost one wrapper
call per message.
"""

from __future__ import annotations

import logging
import time

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ulid import ULID

from api_gateway import limits
from api_gateway.errors import envelope
from pipeline import context

log = logging.getLogger("persona.gateway")


def _valid_ulid(value: str) -> bool:
    try:
        ULID.from_str(value)
    except ValueError:
        return False
    return True


class RequestContext:
    """The outermost middleware. Stamps `X-Request-Id` (a ULID, or the caller's own if it
    is one) on every response, with the rate-limit headers authentication left in the
    request's state (`limits.admit`), and turns an unhandled exception into the
    contract's 500 envelope, logged with the id: that answer carries both too.

    The id is the request's log context (`pipeline.context`): every line logged while
    serving it carries it, and so do the tasks it sends. One line per request ends it:
    method, route template, status and time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if incoming and _valid_ulid(incoming) else str(ULID())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = False
        t0 = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                limit_headers = state.get(limits.STATE_KEY) or {}
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    *((k.lower().encode(), v.encode()) for k, v in limit_headers.items()),
                ]
            await send(message)

        with context.bound({"request_id": request_id}):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error")
                if not started:
                    response = envelope(
                        "SERVER_ERROR", "Internal error; retry with exponential backoff", request_id
                    )
                    await response(scope, receive, send_with_id)
            finally:
                # The route's template, not its path: a path holds the client's user ids.
                route = getattr(scope.get("route"), "path", "(no route)")
                log.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    route,
                    status,
                    (time.perf_counter() - t0) * 1000,
                )


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413, by Content-Length before reading, or
    while streaming when the length is not declared (chunked uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = envelope(
                "PAYLOAD_TOO_LARGE",
                f"Request body of {int(declared)} bytes exceeds the limit of {self.max_bytes}",
                scope.get("state", {}).get("request_id", ""),
                {"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(
                        413, f"Request body exceeds the limit of {self.max_bytes} bytes"
                    )
            return message

        await self.app(scope, counting_receive, send)

"""Request bodies: JSON only, parsed strictly, and judged after the caller's key.

FastAPI reads a body before it solves a route's dependencies, so a malformed
body would be answered before authentication: an anonymous caller would learn
how a route parses, and pay nothing for it. Here a body that cannot be read is
not an error yet: the route sees an empty object, the key is checked (401 or
429 first), and only then does the error handler answer with what was wrong
with the body (`body_error`).

What counts as wrong, beyond invalid JSON:
- a media type other than JSON (415, `UNSUPPORTED_MEDIA_TYPE`);
- the same key twice in one object (which JSON parsers resolve silently, each
  its own way);
- NaN, Infinity, or a number too large for a float (no store holds them).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message
from functools import lru_cache
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from pipeline.fields import parse_json

STATE_KEY = "body_error"


@lru_cache(maxsize=64)
def is_json(content_type: str) -> bool:
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def body_error(request: Request) -> tuple[str, str] | None:
    """(code, message) of what was wrong with the request's body, if anything."""
    found: tuple[str, str] | None = getattr(request.state, STATE_KEY, None)
    return found


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        try:
            return parse_json(await self.body())
        except ValueError as exc:  # json.JSONDecodeError included
            setattr(self.state, STATE_KEY, ("INVALID_REQUEST", f"Malformed JSON body: {exc}"))
            return {}


class BodyRoute(APIRoute):
    """A route whose body is read by the rules of the module docstring."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def route(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if content_type is not None and not is_json(content_type):
                setattr(
                    request.state,
                    STATE_KEY,
                    ("UNSUPPORTED_MEDIA_TYPE", f"Send JSON (application/json), not {content_type}"),
                )
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return route

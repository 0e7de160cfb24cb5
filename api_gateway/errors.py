"""Every error leaves the gateway in the contract's envelope, mapped here and only here.

`{"error": {"code", "message", "request_id"}}`, with the status that the code
implies. Domain errors carry codes but no statuses; framework errors (bad JSON,
unknown route, wrong method, body too large) are translated to the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import PersonaError, RateLimited, Unavailable

log = logging.getLogger("persona.gateway")

STATUS = {
    "INVALID_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "USER_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "USER_DELETING": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "VALIDATION_ERROR": 422,
    "RATE_LIMITED": 429,
    "SERVER_ERROR": 500,
    "UNAVAILABLE": 503,
}
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
# Routes of seed 003 answer 422 for a body that parses but breaks the schema.
UNPROCESSABLE_PREFIXES = ("/v1/",)


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def envelope(
    code: str,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=STATUS.get(code, 500), headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def describe_validation(exc: RequestValidationError) -> tuple[bool, str]:
    """(is the body unparsable, a message naming the first wrong or missing field)."""
    errors = exc.errors()
    first: dict[str, Any] = (
        dict(errors[0]) if errors else {"type": "", "loc": (), "msg": "invalid request"}
    )
    field = _field(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "json_invalid":
        return True, f"Malformed JSON body: {first.get('ctx', {}).get('error', first['msg'])}"
    if kind == "missing":
        message = f"Missing required field: {field}" if field else "Missing request body"
    elif kind == "extra_forbidden":
        message = f"Unknown field: {field}"
    else:
        message = f"Invalid field {field}: {first['msg']}" if field else str(first["msg"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return False, message


async def on_persona_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PersonaError)
    headers = None
    if isinstance(exc, RateLimited | Unavailable):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return envelope(exc.code, exc.message, request_id_of(request), headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unparsable, message = describe_validation(exc)
    code = "INVALID_REQUEST"
    if not unparsable and request.url.path.startswith(UNPROCESSABLE_PREFIXES):
        code = "VALIDATION_ERROR"
    return envelope(code, message, request_id_of(request))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(
        exc.status_code, "INVALID_REQUEST" if exc.status_code < 500 else "SERVER_ERROR"
    )
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"No route for {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    response = envelope(code, message, request_id_of(request), dict(exc.headers or {}))
    response.status_code = exc.status_code
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(PersonaError, on_persona_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)

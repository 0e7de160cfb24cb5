"""Every error leaves the gateway in the contract's envelope, mapped here and only here.

`{"error": {"code", "message", "request_id"}}`, with the status that the code
implies. Domain errors carry codes but no statuses; framework errors (bad JSON,
unknown route, wrong method, body too large) are translated to the same shape.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as KombuOperationalError
from redis import ConnectionError as RedisConnectionError
from redis import RedisError
from redis import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_gateway.bodies import body_error
from pipeline.errors import PersonaError, RateLimited, Unavailable

log = logging.getLogger("persona.gateway")

STATUS = {
    "INVALID_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "INVALID_SIGNATURE": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "USER_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "USER_DELETING": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_ERROR": 422,
    "RATE_LIMITED": 429,
    "SERVER_ERROR": 500,
    "UNAVAILABLE": 503,
}
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
STORE_DOWN: tuple[type[Exception], ...] = (
    OperationalError,  # PostgreSQL refused, cut or timed out the connection
    InterfaceError,
    PoolTimeout,  # every pooled connection busy for `pool_timeout`
    RedisConnectionError,
    RedisTimeoutError,
    KombuOperationalError,  # the broker (Redis) when publishing or calling a worker
)
STORE_RETRY_AFTER_S = 2
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
        why = str(first["msg"]).removeprefix("Value error, ")  # our own validators' words
        message = f"Invalid field {field}: {why}" if field else why
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
    if found := body_error(request):  # the body could not be read at all (see `bodies`)
        return envelope(*found, request_id_of(request))
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
    message = f"No route for {request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        message = (
            f"Method {request.method} is not allowed on {request.url.path}; "
            f"it takes {', '.join(allowed)}"
        )
    elif not (exc.status_code == 404 and exc.detail == "Not Found"):
        message = str(exc.detail)
    response = envelope(code, message, request_id_of(request), headers)
    response.status_code = exc.status_code
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path, read from the OpenAPI document:
    Starlette's 405 names only those of the first route that matched the path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def on_store_down(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL or Redis did not answer: a restart is under way or the network is cut.
    The caller may retry shortly; nothing was half done (the request's transaction
    rolled back), and the driver's own text is logged, never sent."""
    request_id = request_id_of(request)
    log.warning("a store did not answer: %s", type(exc).__name__, extra={"request_id": request_id})
    store = "Redis" if isinstance(exc, RedisError | KombuOperationalError) else "PostgreSQL"
    return envelope(
        "UNAVAILABLE",
        f"{store} is not answering; retry in a few seconds",
        request_id,
        {"Retry-After": str(STORE_RETRY_AFTER_S)},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(PersonaError, on_persona_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for store_error in STORE_DOWN:
        app.add_exception_handler(store_error, on_store_down)

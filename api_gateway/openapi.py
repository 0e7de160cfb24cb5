"""The OpenAPI document, made to say exactly what the gateway answers.

Routes declare the answers of their own (404 for a user, 409 while deleting).
The answers any route of a kind may give are added here, once:

- an authenticated route: 401, 403 (scope), 429 (its organization's bucket, or
  its address's without a valid key), 500, and 503 (a store restarting);
- a route with parameters or a body: 400 for input that breaks the document,
  422 instead on seed 003's `/v1/` routes (400 there too for unreadable JSON);
- a route with a body: 413 (too large) and 415 (not JSON).

FastAPI's own 422 `HTTPValidationError` is never sent, so it is not documented.

An authenticated route lists the three header forms of a key as alternatives
(`deps.KEY_SCHEMES`), so that a client generated from the document sends one
the gateway accepts.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api_gateway.deps import KEY_SCHEMES
from api_gateway.responses import DESCRIPTIONS

UNSENT = ("HTTPValidationError", "ValidationError")
ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def possible(path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses any operation like this one may answer (module docstring)."""
    found: set[int] = set()
    body = "requestBody" in operation
    if operation.get("security"):
        found |= {401, 403, 429, 500, 503}
    if body or operation.get("parameters"):
        found.add(422 if path.startswith("/v1/") else 400)
    if body:
        found |= {400, 413, 415}
    return found


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built once (FastAPI's cache) and corrected as above."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if operation.get("security"):
                operation["security"] = [{name: []} for name in KEY_SCHEMES]
            responses = operation.setdefault("responses", {})
            unsent = responses.get("422", {}).get("content", {}).get("application/json", {})
            if unsent.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            for status in sorted(possible(path, operation)):
                responses.setdefault(
                    str(status),
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": {"$ref": ENVELOPE_REF}}},
                    },
                )
    for name in UNSENT:
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    schema.setdefault("components", {})["securitySchemes"] = KEY_SCHEMES
    app.openapi_schema = schema
    return schema

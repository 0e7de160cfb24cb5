"""One function per operation of the API: typed arguments in, a `Call` out.

A `Call` is everything about one request that does not depend on how it is
sent (the method, the path, the query, the JSON body validated by the
generated request model) and how its answer is read (the generated response
model). `Persona` and `AsyncPersona` send the same calls, one with a blocking
client and one with an asynchronous one; so their methods are one line each.

`@operation` records which operation of the OpenAPI document a function sends:
tests/clients/test_operations_drift.py fails when the document has an
operation that no function here sends, or a client lacks its method.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from persona_client import models, webhooks

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])
JSON = {"Content-Type": "application/json"}

OPERATIONS: dict[str, tuple[str, str]] = {}
"""Function (and client method) name -> (HTTP method, path template) it sends."""


def operation(method: str, path: str) -> Callable[[F], F]:
    def register(builder: F) -> F:
        OPERATIONS[builder.__name__] = (method, path)
        return builder

    return register


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, ready to send, and the reader of its successful answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sink: IO[bytes] | None = None
    """Where a streamed answer's body goes as it arrives (`parse` then reads no body)."""


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the gateway reads it; `batching` sizes bodies with it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def reader(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


def _nothing(response: httpx.Response) -> None:
    return None


def _object(response: httpx.Response) -> dict[str, Any]:
    found: dict[str, Any] = response.json()
    return found


def _path(template: str, **values: str | int) -> str:
    """`template` with each value escaped whole: a user id may hold `/` or `?`."""
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items()})


def _body(schema: type[BaseModel], /, **fields: Any) -> bytes:
    """The JSON body of `fields` (None: left out), checked by the request's model first."""
    given = {name: value for name, value in fields.items() if value is not None}
    return schema.model_validate(given).model_dump_json(exclude_unset=True).encode()


def _json_call(method: str, path: str, answer: type[M], body: bytes) -> Call[M]:
    return Call(method, path, reader(answer), body=body, headers=JSON)


# Health


@operation("GET", "/healthz")
def health() -> Call[dict[str, Any]]:
    return Call("GET", "/healthz", _object)


@operation("GET", "/readyz")
def ready() -> Call[dict[str, Any]]:
    return Call("GET", "/readyz", _object)


# Users


@operation("PUT", "/register")
def register(
    user_id: str, traits: Mapping[str, Any] | None = None, purpose: str | None = None
) -> Call[models.RegisterResponse]:
    body = _body(models.RegisterRequest, user_id=user_id, traits=traits, purpose=purpose)
    return _json_call("PUT", "/register", models.RegisterResponse, body)


@operation("POST", "/v1/end-users")
def create_user(user_id: str, metadata: Mapping[str, Any] | None = None) -> Call[models.EndUser]:
    body = _body(models.EndUserCreate, user_id=user_id, metadata=metadata)
    return _json_call("POST", "/v1/end-users", models.EndUser, body)


@operation("GET", "/v1/end-users/{user_id}")
def get_user(user_id: str) -> Call[models.EndUser]:
    path = _path("/v1/end-users/{user_id}", user_id=user_id)
    return Call("GET", path, reader(models.EndUser))


@operation("PATCH", "/v1/end-users/{user_id}")
def update_user(
    user_id: str, metadata: Mapping[str, Any] | None = None, purpose: str | None = None
) -> Call[models.EndUser]:
    body = _body(models.EndUserPatch, metadata=metadata, purpose=purpose)
    path = _path("/v1/end-users/{user_id}", user_id=user_id)
    return _json_call("PATCH", path, models.EndUser, body)


@operation("POST", "/delete")
def delete(user_id: str) -> Call[models.DeleteResponse]:
    body = _body(models.DeleteRequest, user_id=user_id)
    return _json_call("POST", "/delete", models.DeleteResponse, body)


@operation("DELETE", "/v1/end-users/{user_id}")
def delete_user(user_id: str) -> Call[models.DeleteResponse]:
    path = _path("/v1/end-users/{user_id}", user_id=user_id)
    return Call("DELETE", path, reader(models.DeleteResponse))


NDJSON = {"Accept": "application/x-ndjson"}


class LineCounter:
    """A binary sink that counts the lines written through it."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.lines = out, 0

    def write(self, data: bytes) -> int:
        self.lines += data.count(b"\n")
        return self.out.write(data)


@operation("GET", "/v1/end-users/{user_id}/export")
def export_user(user_id: str, out: IO[bytes]) -> Call[int]:
    """Everything held about the user, as NDJSON lines written to `out` as they arrive;
    the call's answer is the number of lines."""
    counter = LineCounter(out)
    path = _path("/v1/end-users/{user_id}/export", user_id=user_id)
    sink: Any = counter  # has the one method a sink needs
    return Call("GET", path, lambda response: counter.lines, headers=NDJSON, sink=sink)


def export_lines(user_id: str) -> Call[None]:
    """The same request, for a client that reads the lines itself (`iter_export`)."""
    path = _path("/v1/end-users/{user_id}/export", user_id=user_id)
    return Call("GET", path, _nothing, headers=NDJSON)


@operation("GET", "/v1/end-users/{user_id}/footprint")
def footprint(user_id: str) -> Call[models.UserFootprint]:
    path = _path("/v1/end-users/{user_id}/footprint", user_id=user_id)
    return Call("GET", path, reader(models.UserFootprint))


# Ingestion and jobs


@operation("POST", "/ingest")
def ingest(
    user_id: str,
    events: Sequence[models.EventIn | Mapping[str, Any]] | None = None,
    documents: Sequence[models.DocumentIn | Mapping[str, Any]] | None = None,
    source: str | None = None,
) -> Call[models.IngestResponse]:
    body = _body(
        models.IngestRequest,
        user_id=user_id,
        events=[_plain(e) for e in events or []] or None,
        documents=[_plain(d) for d in documents or []] or None,
        source=source,
    )
    return ingest_body(body)


def ingest_body(body: bytes) -> Call[models.IngestResponse]:
    """An `/ingest` call of a body already built (`batching` builds them by size)."""
    return _json_call("POST", "/ingest", models.IngestResponse, body)


def _plain(item: BaseModel | Mapping[str, Any]) -> Any:
    return item.model_dump(exclude_unset=True) if isinstance(item, BaseModel) else dict(item)


@operation("GET", "/jobs/{job_id}")
def get_job(job_id: str) -> Call[models.JobOut]:
    return Call("GET", _path("/jobs/{job_id}", job_id=job_id), reader(models.JobOut))


@operation("GET", "/jobs")
def list_jobs(
    status: models.JobStatus | str | None = None,
    user_id: str | None = None,
    kind: models.JobKind | str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Call[models.JobList]:
    given = {"status": status, "user_id": user_id, "kind": kind, "cursor": cursor, "limit": limit}
    params = {k: str(v) for k, v in given.items() if v is not None}
    return Call("GET", "/jobs", reader(models.JobList), params=params)


@operation("POST", "/webhooks/{source_id}")
def send_webhook(
    source_id: str,
    secret: str,
    payload: Mapping[str, Any] | bytes,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> Call[models.IngestResponse]:
    body = payload if isinstance(payload, bytes) else encode(payload)
    headers = {**JSON, **webhooks.sign(secret, body, webhook_id, at)}
    path = _path("/webhooks/{source_id}", source_id=source_id)
    return Call("POST", path, reader(models.IngestResponse), body=body, headers=headers)


# Reads


@operation("POST", "/chunks")
def chunks(
    user_id: str,
    query: str,
    top_k: int | None = None,
    freshness_days: int | None = None,
    sources: list[str] | None = None,
    types: list[str] | None = None,
) -> Call[models.ChunksResponse]:
    body = _body(
        models.ChunksRequest,
        user_id=user_id,
        query=query,
        top_k=top_k,
        freshness_days=freshness_days,
        sources=sources,
        types=types,
    )
    return _json_call("POST", "/chunks", models.ChunksResponse, body)


@operation("POST", "/query")
def query(
    user_id: str, question: str, top_k: int | None = None, freshness_days: int | None = None
) -> Call[models.QueryResponse]:
    body = _body(
        models.QueryRequest,
        user_id=user_id,
        question=question,
        top_k=top_k,
        freshness_days=freshness_days,
    )
    return _json_call("POST", "/query", models.QueryResponse, body)


@operation("GET", "/summary")
def summary(
    user_id: str,
    purpose: str | None = None,
    max_chars: int | None = None,
    freshness_days: int | None = None,
) -> Call[models.SummaryResponse]:
    given = {"purpose": purpose, "max_chars": max_chars, "freshness_days": freshness_days}
    params = {"user_id": user_id} | {k: v for k, v in given.items() if v is not None}
    return Call("GET", "/summary", reader(models.SummaryResponse), params=params)


# Webhook sources (inbound) and endpoints (outbound): admin keys


@operation("POST", "/v1/sources")
def create_source(name: str, mapping: Mapping[str, str] | None = None) -> Call[models.SourceSecret]:
    body = _body(models.SourceCreate, name=name, mapping=mapping)
    return _json_call("POST", "/v1/sources", models.SourceSecret, body)


@operation("GET", "/v1/sources")
def list_sources() -> Call[models.SourceList]:
    return Call("GET", "/v1/sources", reader(models.SourceList))


@operation("POST", "/v1/sources/{source_id}/rotate")
def rotate_source(source_id: str) -> Call[models.SourceSecret]:
    path = _path("/v1/sources/{source_id}/rotate", source_id=source_id)
    return Call("POST", path, reader(models.SourceSecret))


@operation("DELETE", "/v1/sources/{source_id}")
def delete_source(source_id: str) -> Call[None]:
    return Call("DELETE", _path("/v1/sources/{source_id}", source_id=source_id), _nothing)


@operation("POST", "/v1/webhook-endpoints")
def create_webhook_endpoint(
    url: str, events: list[str], description: str | None = None
) -> Call[models.EndpointSecret]:
    body = _body(models.EndpointCreate, url=url, events=events, description=description)
    return _json_call("POST", "/v1/webhook-endpoints", models.EndpointSecret, body)


@operation("GET", "/v1/webhook-endpoints")
def list_webhook_endpoints() -> Call[models.EndpointList]:
    return Call("GET", "/v1/webhook-endpoints", reader(models.EndpointList))


@operation("DELETE", "/v1/webhook-endpoints/{endpoint_id}")
def delete_webhook_endpoint(endpoint_id: str) -> Call[None]:
    path = _path("/v1/webhook-endpoints/{endpoint_id}", endpoint_id=endpoint_id)
    return Call("DELETE", path, _nothing)


@operation("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries")
def list_deliveries(endpoint_id: str) -> Call[models.DeliveryList]:
    path = _path("/v1/webhook-endpoints/{endpoint_id}/deliveries", endpoint_id=endpoint_id)
    return Call("GET", path, reader(models.DeliveryList))


@operation("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry")
def retry_delivery(endpoint_id: str, delivery_id: int) -> Call[None]:
    path = _path(
        "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
    )
    return Call("POST", path, _nothing)


# Reprocessing: admin keys (`operator` for what reaches past one organization)


@operation("POST", "/v1/reindex")
def reindex(
    model: str | None = None,
    lexical: str | None = None,
    org_id: int | str | None = None,
    user_id: str | None = None,
) -> Call[models.ReprocessAccepted]:
    body = _body(
        models.ReindexRequest, model=model, lexical=lexical, org_id=org_id, user_id=user_id
    )
    return _json_call("POST", "/v1/reindex", models.ReprocessAccepted, body)


@operation("POST", "/v1/reindex/verify")
def verify_index(
    org_id: int | str | None = None, user_id: str | None = None
) -> Call[models.ReprocessAccepted]:
    body = _body(models.VerifyRequest, org_id=org_id, user_id=user_id)
    return _json_call("POST", "/v1/reindex/verify", models.ReprocessAccepted, body)


@operation("POST", "/v1/summaries/rebuild")
def rebuild_summaries(
    purpose: str | None = None, org_id: int | str | None = None, user_id: str | None = None
) -> Call[models.ReprocessAccepted]:
    body = _body(models.RebuildRequest, purpose=purpose, org_id=org_id, user_id=user_id)
    return _json_call("POST", "/v1/summaries/rebuild", models.ReprocessAccepted, body)


@operation("GET", "/v1/generations")
def list_generations() -> Call[models.GenerationList]:
    return Call("GET", "/v1/generations", reader(models.GenerationList))

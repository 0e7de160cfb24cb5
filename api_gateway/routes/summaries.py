"""`GET /summary` (seed 002): served from the stored summary when it is fresh, computed
by a worker on the `retrieval` queue when it is not; ETag and If-None-Match for clients
that keep a copy."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api_gateway.bodies import BodyRoute
from api_gateway.deps import DispatchDep, GatewayDep, Reader
from api_gateway.responses import errors
from pipeline.db.engine import session_scope
from pipeline.messages import Summarize, Task
from pipeline.schemas import SummaryQuery, SummaryResponse
from pipeline.summaries import purposes, store

router = APIRouter(route_class=BodyRoute, tags=["summaries"])


def _body(query: SummaryQuery, found: store.Stored) -> bytes:
    purpose = purposes.normalize(query.purpose)
    if purpose not in purposes.REGISTRY:  # a free-text focus is echoed as it was written
        purpose = " ".join(query.purpose.split())
    answer = SummaryResponse(
        user_id=query.user_id,
        generated_at=found.generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        purpose=purpose,
        summary=found.summary,
    )
    return json.dumps(answer.model_dump(), ensure_ascii=False, separators=(",", ":")).encode()


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match uses: `*` or any listed tag."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


SummaryParams = Annotated[SummaryQuery, Query()]


def stored_summary(
    query: SummaryParams, gateway: GatewayDep, caller: Reader
) -> store.Stored | None:
    """The fresh stored summary, or None, read in a transaction of its own that ends
    before the handler may wait on a worker (no connection is held across the wait)."""
    with session_scope(gateway.engine) as session:
        return store.lookup(session, gateway.redis, caller.org_id, query, gateway.settings)


@router.get(
    "/summary",
    response_model=SummaryResponse,
    responses={
        **errors(400, 401, 403, 404, 500, 503),
        304: {"description": "Not modified: If-None-Match named the current ETag"},
    },
    summary="Generate a summary",
)
def summary(
    query: SummaryParams,
    request: Request,
    stored: Annotated[store.Stored | None, Depends(stored_summary)],
    dispatcher: DispatchDep,
    caller: Reader,
) -> Response:
    """A deterministic, purpose-tuned summary of the user: the same data gives the same
    text, refreshed when new data is indexed."""
    found = stored or store.Stored.from_json(
        dispatcher.call(Task.SUMMARIZE, Summarize(org_id=caller.org_id, request=query))
    )
    body = _body(query, found)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)

"""`POST /chunks`: a user's most relevant snippets, computed by a retrieval worker."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api_gateway.deps import Reader
from api_gateway.dispatch import call
from api_gateway.responses import errors
from pipeline.messages import SearchChunks, Task
from pipeline.schemas import ChunkOut, ChunksRequest, ChunksResponse

router = APIRouter(tags=["retrieval"])


@router.post(
    "/chunks",
    response_model=ChunksResponse,
    responses=errors(400, 401, 403, 404, 500, 503),
    summary="Retrieve top-k user snippets for grounding",
)
def chunks(body: ChunksRequest, request: Request, caller: Reader) -> ChunksResponse:
    settings = request.app.state.settings
    found = call(
        request.app.state.producer,
        Task.SEARCH,
        SearchChunks(org_id=caller.org_id, request=body),
        timeout_s=settings.gateway.rpc_timeout_s,
    )
    return ChunksResponse(user_id=body.user_id, chunks=[ChunkOut(**c) for c in found])

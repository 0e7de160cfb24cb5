"""`POST /chunks` and `POST /query`: computed by a retrieval worker, awaited here."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api_gateway.deps import Reader
from api_gateway.dispatch import call
from api_gateway.responses import errors
from pipeline.messages import AnswerQuestion, SearchChunks, Task
from pipeline.schemas import ChunkOut, ChunksRequest, ChunksResponse, QueryRequest, QueryResponse

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


@router.post(
    "/query",
    response_model=QueryResponse,
    responses=errors(400, 401, 403, 404, 500, 503),
    summary="Answer a question about the user from their memories",
)
def query(body: QueryRequest, request: Request, caller: Reader) -> QueryResponse:
    settings = request.app.state.settings
    # A configured LLM may take up to its own timeout before the worker falls back.
    llm_s = settings.llm.timeout_s if settings.llm.enabled else 0.0
    reply = call(
        request.app.state.producer,
        Task.ANSWER,
        AnswerQuestion(org_id=caller.org_id, request=body),
        timeout_s=settings.gateway.rpc_timeout_s + llm_s,
    )
    return QueryResponse.model_validate(reply)

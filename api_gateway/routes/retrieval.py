"""`POST /chunks` and `POST /query`: computed by a retrieval worker, awaited here (on the
event loop: the direct read is an asyncio request, so the route costs no thread hop)."""

from __future__ import annotations

from fastapi import APIRouter

from api_gateway.bodies import BodyRoute
from api_gateway.deps import DispatchDep, GatewayDep, Reader
from api_gateway.responses import errors
from pipeline.messages import AnswerQuestion, SearchChunks, Task
from pipeline.schemas import ChunkOut, ChunksRequest, ChunksResponse, QueryRequest, QueryResponse

router = APIRouter(route_class=BodyRoute, tags=["retrieval"])


@router.post(
    "/chunks",
    response_model=ChunksResponse,
    responses=errors(400, 401, 403, 404, 500, 503),
    summary="Retrieve top-k user snippets for grounding",
)
async def chunks(body: ChunksRequest, dispatcher: DispatchDep, caller: Reader) -> ChunksResponse:
    found = await dispatcher.read(Task.SEARCH, SearchChunks(org_id=caller.org_id, request=body))
    return ChunksResponse(user_id=body.user_id, chunks=[ChunkOut(**c) for c in found])


@router.post(
    "/query",
    response_model=QueryResponse,
    responses=errors(400, 401, 403, 404, 500, 503),
    summary="Answer a question about the user from their memories",
)
async def query(
    body: QueryRequest, gateway: GatewayDep, dispatcher: DispatchDep, caller: Reader
) -> QueryResponse:
    llm = gateway.settings.llm
    # A configured LLM may take up to its own timeout before the worker falls back.
    reply = await dispatcher.read(
        Task.ANSWER,
        AnswerQuestion(org_id=caller.org_id, request=body),
        extra_s=llm.timeout_s if llm.enabled else 0.0,
    )
    return QueryResponse.model_validate(reply)

"""Background reprocessing: `/v1/reindex` (new generation, or users in place),
`/v1/reindex/verify` (repair), `/v1/summaries/rebuild`, and `/v1/generations`."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Admin, DispatchDep, Operator, SessionDep
from api_gateway.responses import errors
from pipeline import generations
from pipeline.messages import LongJob, Task
from pipeline.reprocess import request
from pipeline.reprocess.schemas import (
    GenerationList,
    GenerationOut,
    RebuildRequest,
    ReindexRequest,
    ReprocessAccepted,
    VerifyRequest,
)

router = APIRouter(route_class=BodyRoute, tags=["reprocessing"])


def _accepted(
    session: SessionDep, dispatcher: DispatchDep, task: Task, requested: request.Requested
) -> ReprocessAccepted:
    dispatcher.publish(session, task, LongJob(job_id=requested.job_id))
    return ReprocessAccepted(job_id=requested.job_id, generation=requested.generation)


@router.post(
    "/v1/reindex",
    response_model=ReprocessAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 404, 409, 429),
    summary="Rebuild the index from the items: a new generation, or users in place",
)
def reindex(
    body: ReindexRequest, session: SessionDep, dispatcher: DispatchDep, caller: Admin
) -> ReprocessAccepted:
    """Without `org_id` and `user_id`: a new generation of the whole index (optionally
    with another `model`), built in the background while reads use the active one, then
    switched in at once. With them: those users re-embedded in the active generation."""
    requested = request.reindex(
        session, caller, body.model, body.lexical, body.org_id, body.user_id
    )
    return _accepted(session, dispatcher, Task.REINDEX, requested)


@router.post(
    "/v1/reindex/verify",
    response_model=ReprocessAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 404, 429),
    summary="Compare the index with the chunk rows, and repair it",
)
def verify(
    body: VerifyRequest, session: SessionDep, dispatcher: DispatchDep, caller: Admin
) -> ReprocessAccepted:
    """Points missing for chunk rows are embedded again; points without a row are
    removed. The job's result counts both."""
    requested = request.verify(session, caller, body.org_id, body.user_id)
    return _accepted(session, dispatcher, Task.VERIFY, requested)


@router.post(
    "/v1/summaries/rebuild",
    response_model=ReprocessAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 404, 429),
    summary="Compute stored summaries again, in the background",
    tags=["summaries"],
)
def rebuild(
    body: RebuildRequest, session: SessionDep, dispatcher: DispatchDep, caller: Admin
) -> ReprocessAccepted:
    """Each stored summary keeps serving until its new text replaces it."""
    requested = request.rebuild(session, caller, body.purpose, body.org_id, body.user_id)
    return _accepted(session, dispatcher, Task.REBUILD, requested)


@router.get(
    "/v1/generations",
    response_model=GenerationList,
    responses=errors(401, 403, 429),
    summary="The index generations: the active one, one being built, the retired ones",
)
def list_generations(session: SessionDep, caller: Operator) -> GenerationList:
    rows = generations.listing(session)
    return GenerationList(generations=[GenerationOut.model_validate(r) for r in rows])

"""`POST /delete` (seed 000's related endpoint) and seed 003's `DELETE /v1/end-users/{id}`:
mark the user `deleting` and queue its erasure; the job's result is the erasure report."""

from __future__ import annotations

from fastapi import APIRouter, status

from api_gateway.bodies import BodyRoute
from api_gateway.deps import DispatchDep, SessionDep, Writer
from api_gateway.params import UserIdPath
from api_gateway.responses import errors
from pipeline.erasure import request
from pipeline.messages import EraseJob, Task
from pipeline.schemas import DeleteRequest, DeleteResponse

router = APIRouter(route_class=BodyRoute, tags=["deletion"])


def _delete(
    session: SessionDep, dispatcher: DispatchDep, org_id: int, user_id: str
) -> DeleteResponse:
    requested = request.request_deletion(session, org_id, user_id)
    if requested.new:
        dispatcher.publish(session, Task.ERASE, EraseJob(job_id=requested.job_id))
    return DeleteResponse(user_id=user_id, job_id=requested.job_id)


@router.post(
    "/delete",
    response_model=DeleteResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 404, 429, 500),
    summary="Delete all personalization data for a user",
)
def delete_user(
    body: DeleteRequest, session: SessionDep, dispatcher: DispatchDep, caller: Writer
) -> DeleteResponse:
    """The user answers 409 on writes while the erasure runs and 404 once it is done;
    repeating the request while it runs returns the same job."""
    return _delete(session, dispatcher, caller.org_id, body.user_id)


@router.delete(
    "/v1/end-users/{user_id}",
    response_model=DeleteResponse,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 429, 500),
    summary="Delete an end user and all of its data",
    tags=["end-users"],
)
def delete_end_user(
    session: SessionDep, dispatcher: DispatchDep, caller: Writer, user_id: str = UserIdPath
) -> DeleteResponse:
    return _delete(session, dispatcher, caller.org_id, user_id)

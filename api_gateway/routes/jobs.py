"""`GET /jobs/{job_id}`: where a job stands, with its counts, timings and error; and
`GET /jobs`: the organization's jobs, filtered, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Reader, SessionDep
from api_gateway.params import JobIdPath
from api_gateway.responses import errors
from pipeline import jobs
from pipeline.fields import USER_ID_PATTERN
from pipeline.schemas import JobList, JobOut
from pipeline.status import JobKind, JobStatus

router = APIRouter(route_class=BodyRoute, tags=["jobs"])

MAX_PAGE = 200


@router.get("/jobs", response_model=JobList, responses=errors(400, 401, 403, 500))
def list_jobs(
    session: SessionDep,
    caller: Reader,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this state.")] = None,
    user_id: Annotated[
        str | None,
        Query(
            min_length=1, max_length=256, pattern=USER_ID_PATTERN, description="Only this user's."
        ),
    ] = None,
    kind: Annotated[JobKind | None, Query(description="Only jobs of this kind.")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Jobs per page.")] = 50,
) -> JobList:
    """The caller's organization's jobs, newest first; follow `next_cursor` for more."""
    return jobs.listing(
        session,
        caller.org_id,
        status=status,
        user_id=user_id,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(401, 403, 404, 500))
def get_job(session: SessionDep, caller: Reader, job_id: str = JobIdPath) -> JobOut:
    return jobs.get(session, caller.org_id, job_id)

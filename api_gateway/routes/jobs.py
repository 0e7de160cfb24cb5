"""`GET /jobs/{job_id}`: where a job stands, with its counts, timings and error."""

from __future__ import annotations

from fastapi import APIRouter

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Reader, SessionDep
from api_gateway.params import JobIdPath
from api_gateway.responses import errors
from pipeline import jobs
from pipeline.schemas import JobOut

router = APIRouter(route_class=BodyRoute, tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(401, 403, 404, 500))
def get_job(session: SessionDep, caller: Reader, job_id: str = JobIdPath) -> JobOut:
    return jobs.get(session, caller.org_id, job_id)

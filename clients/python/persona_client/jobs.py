"""Waiting for a job (an ingest's indexing, an erasure, a reindex) to finish.

Both clients poll `GET /jobs/{job_id}` the same way: often at first, since most
ingest jobs finish within a second, then less often, up to every two seconds.
A job that ends `failed` raises `JobFailed`; one still running at the deadline
raises `JobTimeout`. Either carries the job's last state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from persona_client import models
from persona_client.errors import JobFailed, JobTimeout

FINISHED = (models.JobStatus.succeeded, models.JobStatus.failed)
FIRST_POLL_S = 0.1
LONGEST_POLL_S = 2.0


def pauses(timeout_s: float) -> Iterator[float]:
    """Seconds to wait before each next poll, until `timeout_s` has passed since the first."""
    deadline = time.monotonic() + timeout_s
    pause = FIRST_POLL_S
    while (left := deadline - time.monotonic()) > 0:
        yield min(pause, left)
        pause = min(LONGEST_POLL_S, pause * 1.5)


def finished(job: models.JobOut) -> bool:
    return job.status in FINISHED


def outcome(job: models.JobOut, timeout_s: float) -> models.JobOut:
    """The job if it succeeded; JobFailed, or JobTimeout if it has not finished."""
    if job.status == models.JobStatus.failed:
        raise JobFailed(job)
    if job.status != models.JobStatus.succeeded:
        raise JobTimeout(job, timeout_s)
    return job

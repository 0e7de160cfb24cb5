"""Asking for a user's erasure: the gateway's one write, before any data is touched.

In one transaction the user row is locked, marked `deleting` and the erasure job
is written (the outbox, as for ingestion). From that commit on every write for
the user answers USER_DELETING (the row lock orders this with `/ingest` and
`/register`, which lock the same row), and every indexing job drops its work
(it re-checks the status under the user's write lock). The erasure itself runs
in a worker (`run`); publishing its job id happens after commit, by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import jobs, users
from pipeline.db.models import Job
from pipeline.status import JobKind, JobStatus, UserStatus


@dataclass(frozen=True)
class Requested:
    job_id: str
    user_id: str
    new: bool  # False when the user was already being deleted: the same job is returned


def request_deletion(session: Session, org_id: int, user_id: str) -> Requested:
    """Mark the user `deleting` and write its erasure job; idempotent while it runs
    (a repeat returns the same job), and a new job after one that failed.

    An unknown user, or one already erased, is USER_NOT_FOUND.
    """
    user = users.find(session, org_id, user_id, lock=True)
    if user.status == UserStatus.DELETING:
        pending = session.execute(
            select(Job.id)
            .where(
                Job.user_pk == user.id,
                Job.kind == JobKind.DELETE,
                Job.status != JobStatus.FAILED,
            )
            .order_by(Job.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if pending is not None:
            return Requested(pending, user_id, new=False)
    user.status = UserStatus.DELETING
    user.updated_at = session.execute(select(func.now())).scalar_one()
    job_id = jobs.new_id()
    jobs.create(session, job_id, JobKind.DELETE, org_id, user_id, user.id)
    session.flush()
    return Requested(job_id, user_id, new=True)

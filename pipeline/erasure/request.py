"""Asking for a user's deletion: the gateway's one write, before any data is touched.

In one transaction the user row is locked, marked `deleting` and the erasure job
is written (the outbox, as for ingestion). From that commit on every write for
the user answers USER_DELETING (the row lock orders this with `/ingest` and
`/register`, which lock the same row), and every indexing job drops its work
(it re-checks the status under the user's advisory lock). The erasure itself
runs in a worker (`pipeline.erasure`); publishing its job id happens after
commit, by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import jobs
from pipeline.db.models import Job, User
from pipeline.errors import UserNotFound

KIND = "delete"


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
    user = session.execute(
        select(User).where(User.org_id == org_id, User.user_id == user_id).with_for_update()
    ).scalar_one_or_none()
    if user is None:
        raise UserNotFound(user_id)
    if user.status == "deleting":
        pending = session.execute(
            select(Job.id)
            .where(Job.user_pk == user.id, Job.kind == KIND, Job.status != "failed")
            .order_by(Job.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if pending is not None:
            return Requested(pending, user_id, new=False)
    user.status = "deleting"
    user.updated_at = session.execute(select(func.now())).scalar_one()
    job_id = jobs.new_id()
    session.add(
        Job(
            id=job_id,
            org_id=org_id,
            user_id=user_id,
            user_pk=user.id,
            kind=KIND,
            status="queued",
            timings={},
            published_at=func.now(),
        )
    )
    session.flush()
    return Requested(job_id, user_id, new=True)

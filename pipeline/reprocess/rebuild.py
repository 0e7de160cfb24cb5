"""Summaries rebuilt: every stored summary of the scope computed again, in the background.

After a purpose's queries or the generator change (or a model switch moved which
facts are nearest), `persona summaries rebuild` recomputes what is stored, user by
user in background steps (`steps`), with the same code as a refresh
(`summaries.service.refresh_user`): the stored text keeps serving until the new one
replaces it, so reads never wait and never see a gap.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Select, distinct, func, select

from pipeline import jobs
from pipeline.db.engine import session_scope
from pipeline.db.models import Summary, User
from pipeline.reprocess import steps
from pipeline.reprocess.progress import Progress, save
from pipeline.runtime import Runtime
from pipeline.status import UserStatus
from pipeline.summaries.service import refresh_user

log = logging.getLogger("persona.rebuild")

USERS_PER_PAGE = 16


def _users(p: Progress) -> Select[int]:
    """Active users of the scope with a stored summary (of the purpose, if one is named)."""
    query = (
        select(distinct(Summary.user_pk))
        .join(User, User.id == Summary.user_pk)
        .where(User.status == UserStatus.ACTIVE)
    )
    if p.purpose is not None:
        query = query.where(Summary.purpose == p.purpose)
    if p.user_pk is not None:
        query = query.where(User.id == p.user_pk)
    elif p.org_id is not None:
        query = query.where(User.org_id == p.org_id)
    return query


def run_rebuild_step(runtime: Runtime, job_id: str) -> steps.Step:
    return steps.run(runtime, job_id, _advance)


def _advance(runtime: Runtime, job_id: str, p: Progress, deadline: float) -> bool:
    if p.phase == "queued":
        with session_scope(runtime.engine) as session:
            p.phase = "rebuild"
            p.total = session.execute(
                select(func.count()).select_from(_users(p).subquery())
            ).scalar_one()
            save(session, job_id, p)
    while time.monotonic() < deadline:
        with session_scope(runtime.engine) as session:
            page = list(
                session.execute(
                    _users(p)
                    .where(Summary.user_pk > p.cursor)
                    .order_by(Summary.user_pk)
                    .limit(USERS_PER_PAGE)
                ).scalars()
            )
        for user_pk in page:
            p.count("summaries", refresh_user(runtime, user_pk, purpose=p.purpose, every=True))
            p.cursor, p.done = user_pk, p.done + 1
        with session_scope(runtime.engine) as session:
            if not page:
                p.phase = "done"
                save(session, job_id, p)
                jobs.complete(session, job_id, {"users": p.done, **p.counts}, {})
                log.info("job %s: rebuilt %s", job_id, p.counts)
                return True
            save(session, job_id, p)
    return False

"""Asking for reprocessing: who may ask for what, and the job row it makes (the gateway's
side: database only).

A scope is one user, one organization, or everything. An admin key acts on its own
organization; everything, another organization, and a new generation (which every
organization reads) need the `operator` scope, which the bootstrap key has. A model
or a lexical matcher applies to the whole index: a reindex with one is a new
generation, never a user's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import generations, jobs, keys, models, users
from pipeline.db.models import Organization
from pipeline.errors import Conflict, NotFound
from pipeline.reprocess.progress import Progress
from pipeline.status import JobKind


@dataclass(frozen=True)
class Scope:
    org_id: int | None = None
    user_id: str | None = None
    user_pk: int | None = None

    @property
    def everything(self) -> bool:
        return self.org_id is None


@dataclass(frozen=True)
class Requested:
    job_id: str
    generation: int | None


def _org(session: Session, org: int | str) -> int:
    column = Organization.id if isinstance(org, int) else Organization.name
    found = session.execute(select(Organization.id).where(column == org)).scalar()
    if found is None:
        raise NotFound(f"No organization {org!r}")
    return found


def scope(
    session: Session, caller: keys.Principal, org: int | str | None, user_id: str | None
) -> Scope:
    """The scope asked for, resolved and allowed: NOT_FOUND for an unknown organization or
    user, FORBIDDEN for one the caller's key may not act on."""
    if org is None and user_id is None:
        caller.require("operator")
        return Scope()
    org_id = caller.org_id if org is None else _org(session, org)
    if org_id != caller.org_id:
        caller.require("operator")
    if user_id is None:
        return Scope(org_id)
    return Scope(org_id, user_id, users.pk(session, org_id, user_id))


def _job(
    session: Session, kind: JobKind, caller: keys.Principal, where: Scope, progress: Progress
) -> str:
    job_id = jobs.new_id()
    progress.org_id, progress.user_pk = where.org_id, where.user_pk
    jobs.create(
        session,
        job_id,
        kind,
        caller.org_id,
        where.user_id,
        where.user_pk,
        progress=progress.to_json(),
    )
    return job_id


def reindex(
    session: Session,
    caller: keys.Principal,
    model: str | None,
    lexical: str | None,
    org: int | str | None,
    user_id: str | None,
) -> Requested:
    """A reindex job: a new generation (everything, optionally with another model or
    lexical matcher, checked by `schemas.ReindexRequest`) or the scope re-embedded in
    place. CONFLICT while another generation is being built."""
    where = scope(session, caller, org, user_id)
    active = generations.active(session)
    if where.everything:
        spec = models.spec(model) if model else (active.model if active else models.MINILM)
        words = (
            models.lexical(lexical)
            if lexical
            else (active.lexical if active else models.lexical(models.DEFAULT_LEXICAL))
        )
        generation = generations.begin(session, spec, words)
        progress = Progress("queued", model=spec.name, generation=generation.id)
        return Requested(_job(session, JobKind.REINDEX, caller, where, progress), generation.id)
    if active is None:
        raise Conflict("Nothing has been indexed yet: there is no index to reindex")
    progress = Progress("queued", generation=active.id)
    return Requested(_job(session, JobKind.REINDEX, caller, where, progress), active.id)


def verify(
    session: Session, caller: keys.Principal, org: int | str | None, user_id: str | None
) -> Requested:
    """A verify-and-repair job of the active generation over the scope."""
    where = scope(session, caller, org, user_id)
    active = generations.active(session)
    progress = Progress("queued", generation=active.id if active else None)
    return Requested(
        _job(session, JobKind.VERIFY, caller, where, progress), active.id if active else None
    )


def rebuild(
    session: Session,
    caller: keys.Principal,
    purpose: str | None,
    org: int | str | None,
    user_id: str | None,
) -> Requested:
    """A job computing the scope's stored summaries again (of one purpose, or all)."""
    where = scope(session, caller, org, user_id)
    return Requested(
        _job(session, JobKind.REBUILD, caller, where, Progress("queued", purpose=purpose)), None
    )

"""A long job's checkpoint and progress, kept as JSON in its row's `progress`.

What a step needs to resume (its phase, its cursors, the generation it builds)
and what `GET /jobs/{id}` shows (done of total, rate, ETA) are one record,
written in the same transaction as the work it counts: a resumed step neither
repeats nor skips a page, and the figures shown are never ahead of the work.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from pipeline.db.models import Job
from pipeline.schemas import JobProgress


@dataclass
class Progress:
    phase: str
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    cursor: int = 0  # the last item id (or user row id) done in this phase
    last_id: int = 0  # the pages by id stop here: the newest item when the job started
    seq: int = 0  # a reindex: items indexed live up to here are in its generation
    seq_to: int = 0  # ... and this catch-up pass goes up to here
    generation: int | None = None
    model: str | None = None  # a new generation's model
    org_id: int | None = None  # the scope: one organization ...
    user_pk: int | None = None  # ... or one user; neither: everything
    purpose: str | None = None  # a summaries rebuild: only this purpose
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> Progress:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (raw or {"phase": "queued"}).items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def save(session: Session, job_id: str, progress: Progress) -> None:
    """Record the checkpoint in the caller's transaction (the one that did the work)."""
    session.execute(update(Job).where(Job.id == job_id).values(progress=progress.to_json()))


def view(raw: dict[str, Any] | None, now: float | None = None) -> JobProgress | None:
    """What a client reads of a job's progress: done of total, the rate so far, the ETA."""
    if not raw:
        return None
    progress = Progress.of(raw)
    elapsed = (now or time.time()) - progress.started
    rate = progress.done / elapsed if elapsed > 0 and progress.done else None
    left = max(progress.total - progress.done, 0)
    return JobProgress(
        phase=progress.phase,
        done=progress.done,
        total=progress.total,
        rate_per_s=round(rate, 2) if rate else None,
        eta_s=round(left / rate, 1) if rate else None,
    )

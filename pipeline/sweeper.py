"""The outbox sweeper: jobs whose message was lost, or whose worker died, are sent again.

Every job is written with its rows before its message is published, and Redis
may lose messages (a restart, a flush, a broker without persistence). Three
cases, each re-published to the task of its kind (the task sends, this module
only finds them, and records that they were sent):

- queued, and not started `republish_after_s` after it was last published;
- running, claimed by a worker whose heartbeat has stopped (`pipeline.heartbeat`):
  the worker died mid-job, and Redis would keep its message for the broker's
  visibility timeout;
- running for longer than `stuck_after_s` (a worker without a heartbeat, or one
  that hangs).

Re-running a job is harmless (every step is idempotent), so the bounds err on
the side of sending again.
"""

from __future__ import annotations

from pipeline import heartbeat, jobs
from pipeline.db.engine import session_scope
from pipeline.runtime import Runtime
from pipeline.status import JobKind


def due(runtime: Runtime) -> dict[str, JobKind]:
    """The jobs to send again, by id, with their kind."""
    settings = runtime.settings.ingest
    with session_scope(runtime.engine) as session:
        lost = set(jobs.lost(session, settings.republish_after_s, settings.stuck_after_s))
        claimed = jobs.running_on(session)
        living = heartbeat.alive(runtime.redis, sorted(set(claimed.values())))
        orphaned = {job_id for job_id, worker in claimed.items() if worker not in living}
        return jobs.kinds(session, sorted(lost | orphaned))


def sent(runtime: Runtime, job_ids: list[str]) -> None:
    """Record that `job_ids` were published just now."""
    if job_ids:
        with session_scope(runtime.engine) as session:
            jobs.mark_published(session, job_ids)

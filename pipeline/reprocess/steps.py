"""A long job as a chain of short steps: each works for `reindex.step_s`, checkpoints, and
asks for the next.

A reindex of a large install takes hours; a task that long would outlive the
broker's visibility timeout (and be handed to a second worker while it runs) and
would lose hours to a crash. So a long job is a chain of steps, each a task of its
own: it resumes at the job's checkpoint (`progress`), works page by page, saving
the checkpoint with each page's writes, and when its time is up returns MORE, and
the worker queues the next step. A killed worker loses at most the page in hand:
its message is redelivered, or the sweeper re-publishes the job, and the next step
starts from the checkpoint.

One step at a time per job: each holds a session-level advisory lock on the job
(on a connection of its own, released by PostgreSQL if the process dies), and a
step that finds it taken (a duplicate message) does nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import text

from pipeline import jobs
from pipeline.db.engine import session_scope
from pipeline.errors import transient_is_retryable
from pipeline.reprocess.progress import Progress
from pipeline.runtime import Runtime

STEP_LOCK_SPACE = 2
"""The two-int advisory lock space of the step locks (1 is the users' write locks)."""


class Step(StrEnum):
    DONE = "done"  # the job has ended
    MORE = "more"  # checkpointed: queue the next step
    BUSY = "busy"  # another step of the job is running: this message is not needed


Advance = Callable[[Runtime, str, Progress, float], bool]
"""Works on the job from its checkpoint until the deadline (a `time.monotonic()`),
saving the checkpoint with each page; True once the job has ended."""


def _lock_key(job_id: str) -> dict[str, int]:
    digest = hashlib.sha256(job_id.encode()).digest()
    return {"space": STEP_LOCK_SPACE, "key": int.from_bytes(digest[:4], "big", signed=True)}


def run(runtime: Runtime, job_id: str, advance: Advance) -> Step:
    """One step of job `job_id`. Raises `Retryable` for transient failures."""
    with transient_is_retryable(), runtime.engine.connect() as connection:
        key = _lock_key(job_id)
        alone = connection.execute(text("SELECT pg_try_advisory_lock(:space, :key)"), key).scalar()
        connection.commit()
        if not alone:
            return Step.BUSY
        try:
            with session_scope(runtime.engine) as session:
                job = jobs.claim(session, job_id, runtime.worker_id, step=True)
                if job is None:
                    return Step.DONE
                progress = Progress.of(job.progress)
            deadline = time.monotonic() + runtime.settings.step_budget_s
            return Step.DONE if advance(runtime, job_id, progress, deadline) else Step.MORE
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), key)
            connection.commit()

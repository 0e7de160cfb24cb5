"""Path parameters, checked as strictly as the same values in a body: a value the stores
could not hold (a NUL, a control character) is a 400 naming it, never a 500."""

from __future__ import annotations

from fastapi import Path

from pipeline.fields import USER_ID_PATTERN

JOB_ID = r"^[0-9A-Za-z]{26}$"  # a ULID

UserIdPath = Path(
    min_length=1, max_length=256, pattern=USER_ID_PATTERN, description="The user's id."
)
JobIdPath = Path(pattern=JOB_ID, description="The job id `/ingest` or `/delete` answered.")

"""Jobs record the lane they were queued in: the broker their message went through

A worker batches the queued ingest jobs of its own lane only (`pipeline.ingest.claims`),
so that two deployments sharing one database never run each other's jobs.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lane", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "lane")

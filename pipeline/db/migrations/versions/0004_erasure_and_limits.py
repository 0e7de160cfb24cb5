"""Erasure reports on jobs; rate limits and plan quotas per organization.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("organizations", sa.Column("rate_limit_per_s", sa.Float(), nullable=True))
    op.add_column("organizations", sa.Column("rate_limit_burst", sa.Integer(), nullable=True))
    op.add_column("organizations", sa.Column("plan", sa.String(length=64), nullable=True))
    op.add_column("organizations", sa.Column("quota_turns", sa.BigInteger(), nullable=True))
    op.add_column("organizations", sa.Column("quota_users", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for column in ("quota_users", "quota_turns", "plan", "rate_limit_burst", "rate_limit_per_s"):
        op.drop_column("organizations", column)
    op.drop_column("jobs", "result")

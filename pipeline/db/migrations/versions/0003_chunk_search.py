"""Chunk context header and full-text search column for hybrid retrieval

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chunks", sa.Column("context", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "chunks",
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('english'::regconfig, context || ' ' || text)", persisted=True
            ),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("chunks", "search")
    op.drop_column("chunks", "context")

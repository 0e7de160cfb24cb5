"""Generations record how they match words: terms in the index, or BM25 in PostgreSQL

Generations built before this one matched words with BM25 over the chunk rows in
PostgreSQL (`postgres`); a reindex builds one whose points hold their terms (`bm25`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "generations",
        sa.Column("lexical", sa.String(length=32), server_default="postgres", nullable=False),
    )
    op.alter_column("generations", "lexical", server_default=None)


def downgrade() -> None:
    op.drop_column("generations", "lexical")

"""Summaries, and the indexes their freshness check and recency candidates read

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_chunks_user_pk_id", "chunks", ["user_pk", "id"], unique=False)
    op.create_index("ix_items_user_pk_ts", "items", ["user_pk", "ts", "id"], unique=False)
    op.create_table(
        "summaries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_pk", sa.BigInteger(), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("max_chars", sa.Integer(), nullable=False),
        sa.Column("freshness_days", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("data_seq", sa.BigInteger(), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshes", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('extractive', 'llm', 'fallback')", name=op.f("ck_summaries_source")
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.id"], name=op.f("fk_summaries_user_pk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summaries")),
        sa.UniqueConstraint("user_pk", "cache_key", name="uq_summaries_user_key"),
    )


def downgrade() -> None:
    op.drop_table("summaries")
    op.drop_index("ix_items_user_pk_ts", table_name="items")
    op.drop_index("ix_chunks_user_pk_id", table_name="chunks")

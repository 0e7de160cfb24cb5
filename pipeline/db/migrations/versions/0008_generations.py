"""Index generations: chunk rows belong to one, items carry the sequence a reindex follows

An install that already has chunks gets generation 1 for them: the model it has always
run (all-MiniLM-L6-v2) and the collection it has always used (`chunks`). A new install
gets its first generation from its settings, on first use (`pipeline.generations`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "'building', 'active', 'retired', 'dropped', 'failed'"


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("build", sa.String(length=64), nullable=False),
        sa.Column("chunking", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("collection", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drop_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_generations_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generations")),
        sa.UniqueConstraint("collection", name=op.f("uq_generations_collection")),
    )
    for state in ("active", "building"):
        op.create_index(
            f"uq_generations_{state}",
            "generations",
            ["state"],
            unique=True,
            postgresql_where=sa.text(f"state = '{state}'"),
        )

    has_chunks = op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM chunks)")).scalar()
    if has_chunks:
        op.execute(
            "INSERT INTO generations (id, model, dim, build, chunking, collection, state, "
            "activated_at) OVERRIDING SYSTEM VALUE VALUES (1, 'minilm', 384, 'unknown', "
            "'{\"max_tokens\": 256}', 'chunks', 'active', now())"
        )
        op.execute("SELECT setval(pg_get_serial_sequence('generations', 'id'), 1)")
        # A default fills the existing rows without rewriting the table; then it goes.
        op.add_column(
            "chunks",
            sa.Column("generation_id", sa.Integer(), server_default="1", nullable=False),
        )
        op.alter_column("chunks", "generation_id", server_default=None)
    else:
        op.add_column("chunks", sa.Column("generation_id", sa.Integer(), nullable=False))
    op.create_foreign_key(
        op.f("fk_chunks_generation_id_generations"),
        "chunks",
        "generations",
        ["generation_id"],
        ["id"],
    )
    op.drop_constraint("uq_chunks_item_ordinal", "chunks", type_="unique")
    op.create_unique_constraint(
        "uq_chunks_item_generation", "chunks", ["item_id", "generation_id", "ordinal"]
    )
    op.drop_index("ix_chunks_user_pk_id", table_name="chunks")
    op.create_index(
        "ix_chunks_user_generation", "chunks", ["user_pk", "generation_id", "id"], unique=False
    )

    op.execute("CREATE SEQUENCE items_index_seq")
    op.add_column("items", sa.Column("index_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_items_index_seq", "items", ["index_seq"], unique=False)
    op.create_index("ix_items_user_pk_index_seq", "items", ["user_pk", "index_seq"], unique=False)

    op.alter_column("jobs", "user_id", existing_type=sa.String(length=256), nullable=True)
    op.alter_column("jobs", "user_pk", existing_type=sa.BigInteger(), nullable=True)
    op.add_column(
        "jobs", sa.Column("progress", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("jobs", "progress")
    op.execute("DELETE FROM jobs WHERE user_pk IS NULL")
    op.alter_column("jobs", "user_pk", existing_type=sa.BigInteger(), nullable=False)
    op.alter_column("jobs", "user_id", existing_type=sa.String(length=256), nullable=False)

    op.drop_index("ix_items_user_pk_index_seq", table_name="items")
    op.drop_index("ix_items_index_seq", table_name="items")
    op.drop_column("items", "index_seq")
    op.execute("DROP SEQUENCE items_index_seq")

    # Only the active generation's chunks fit the old one-set-per-item shape.
    op.execute(
        "DELETE FROM chunks WHERE generation_id IS DISTINCT FROM "
        "(SELECT id FROM generations WHERE state = 'active')"
    )
    op.drop_index("ix_chunks_user_generation", table_name="chunks")
    op.create_index("ix_chunks_user_pk_id", "chunks", ["user_pk", "id"], unique=False)
    op.drop_constraint("uq_chunks_item_generation", "chunks", type_="unique")
    op.create_unique_constraint("uq_chunks_item_ordinal", "chunks", ["item_id", "ordinal"])
    op.drop_constraint(op.f("fk_chunks_generation_id_generations"), "chunks", type_="foreignkey")
    op.drop_column("chunks", "generation_id")
    for state in ("building", "active"):
        op.drop_index(f"uq_generations_{state}", table_name="generations")
    op.drop_table("generations")

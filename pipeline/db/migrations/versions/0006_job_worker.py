"""Jobs name the worker that claimed them, so a job whose worker died is recovered at once

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("worker", sa.String(length=128), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "worker")

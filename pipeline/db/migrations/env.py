"""Alembic environment: runs the migrations online against the URL the caller set."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from pipeline.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("migrations need sqlalchemy.url (use `persona migrate`)")

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        # Why: two processes starting at once (gateway replicas, an init job)
        # must not run the same migration twice.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7460531)")
        context.run_migrations()
engine.dispose()

"""The migrations build exactly the schema the models describe, and run both ways."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from pipeline.db.migrate import alembic_config, upgrade


@pytest.fixture
def scratch_url(services) -> Iterator[str]:
    """A database of its own, so up and down migrations touch nothing else."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(services.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.admin_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_models_match_migrations(scratch_url: str) -> None:
    upgrade(scratch_url)
    command.check(alembic_config(scratch_url))  # raises if autogenerate finds a difference


def test_downgrade_to_base_and_up_again(scratch_url: str) -> None:
    upgrade(scratch_url)
    command.downgrade(alembic_config(scratch_url), "base")
    engine = create_engine(scratch_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(scratch_url)
    assert {"organizations", "api_keys", "users"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def snapshot(url: str) -> tuple[str | None, dict[str, list[str]]]:
    """The revision a database is at, and its tables with their columns and indexes."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
        inspector = inspect(engine)
        tables = {
            table: sorted(
                [f"{c['name']} {c['type']}" for c in inspector.get_columns(table)]
                + [f"index {i['name']}" for i in inspector.get_indexes(table)]
            )
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()
    return revision, tables


def test_upgrade_twice_is_a_no_op(scratch_url: str) -> None:
    upgrade(scratch_url)
    first = snapshot(scratch_url)
    upgrade(scratch_url)
    assert snapshot(scratch_url) == first
    head = ScriptDirectory.from_config(alembic_config(scratch_url)).get_current_head()
    assert first[0] == head
    assert {"users", "jobs", "items", "chunks", "summaries"} <= set(first[1])

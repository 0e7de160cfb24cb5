"""Settings come from PERSONA_* variables, sections joined by one underscore."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline import keys
from pipeline.config import Settings


def test_flat_and_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_PORT", "9001")
    monkeypatch.setenv("PERSONA_DATA_DIR", "/srv/persona")
    monkeypatch.setenv("PERSONA_DATABASE_URL", "postgresql+psycopg://db/persona")
    monkeypatch.setenv("PERSONA_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PERSONA_GATEWAY_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("PERSONA_CELERY_VISIBILITY_TIMEOUT_S", "9999")
    settings = Settings()
    assert settings.port == 9001
    assert settings.data_dir == Path("/srv/persona")
    assert settings.database.url == "postgresql+psycopg://db/persona"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.gateway.max_body_bytes == 1024
    assert settings.celery.visibility_timeout_s == 9999


def test_missing_urls_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONA_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="persona run"):
        Settings().require_database_url()


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"PERSONA_INGEST_JOB_TIME_LIMIT_S": "1000"},
            ("PERSONA_INGEST_STUCK_AFTER_S", "PERSONA_INGEST_JOB_TIME_LIMIT_S"),
        ),
        (
            {"PERSONA_INGEST_JOB_TIME_LIMIT_S": "100", "PERSONA_CELERY_VISIBILITY_TIMEOUT_S": "90"},
            ("PERSONA_CELERY_VISIBILITY_TIMEOUT_S", "PERSONA_INGEST_JOB_TIME_LIMIT_S"),
        ),
        (
            {"PERSONA_CELERY_WORKER_CONCURRENCY": "2"},
            ("PERSONA_CELERY_WORKER_CONCURRENCY", "PERSONA_EMBEDDING_PARALLEL"),
        ),
    ],
)
def test_settings_that_contradict_each_other_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: tuple[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert all(name in str(refused.value) for name in names)


@pytest.mark.parametrize(
    "key", ["pk_change_me", "pk_changeme_changeme_changeme_changeme", "pk_short", "x" * 31]
)
def test_a_placeholder_or_short_bootstrap_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("PERSONA_BOOTSTRAP_KEY", key)
    with pytest.raises(ValidationError, match="PERSONA_BOOTSTRAP_KEY"):
        Settings()


def test_generated_keys_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(200):
        key = keys.new_key()
        monkeypatch.setenv("PERSONA_BOOTSTRAP_KEY", key)
        assert Settings().bootstrap_key == key

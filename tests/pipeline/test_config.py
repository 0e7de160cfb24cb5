"""Settings come from PERSONA_* variables, sections joined by one underscore."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings


def test_flat_and_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_PORT", "9001")
    monkeypatch.setenv("PERSONA_DATA_DIR", "/srv/persona")
    monkeypatch.setenv("PERSONA_DATABASE_URL", "postgresql+psycopg://db/persona")
    monkeypatch.setenv("PERSONA_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PERSONA_GATEWAY_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("PERSONA_CELERY_VISIBILITY_TIMEOUT_S", "99")
    settings = Settings()
    assert settings.port == 9001
    assert settings.data_dir == Path("/srv/persona")
    assert settings.database.url == "postgresql+psycopg://db/persona"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.gateway.max_body_bytes == 1024
    assert settings.celery.visibility_timeout_s == 99


def test_missing_urls_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONA_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="persona run"):
        Settings().require_database_url()

"""API keys are stored hashed, carry scopes, and stop working when revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pipeline import keys
from pipeline.db.models import ApiKey
from pipeline.errors import Forbidden, InvalidInput, NotFound, Unauthorized


def test_key_is_shown_once_and_stored_hashed(db: Session) -> None:
    key = keys.create_key(db, "keys-test", ["read"])
    stored = db.execute(select(ApiKey.key_hash)).scalars().all()
    assert keys.hash_key(key) in stored
    dump = db.execute(text("SELECT string_agg(api_keys::text, '') FROM api_keys")).scalar_one()
    assert key not in dump


def test_scopes(db: Session) -> None:
    reader = keys.authenticate(db, keys.create_key(db, "keys-test", ["read"]))
    reader.require("read")
    with pytest.raises(Forbidden):
        reader.require("read_write")
    writer = keys.authenticate(db, keys.create_key(db, "keys-test", ["read_write"]))
    writer.require("read")
    with pytest.raises(Forbidden):
        writer.require("admin")


def test_revoked_and_unknown_keys_are_unauthorized(db: Session) -> None:
    key = keys.create_key(db, "keys-test", ["read"])
    keys.revoke_key(db, key)
    with pytest.raises(Unauthorized):
        keys.authenticate(db, key)
    with pytest.raises(Unauthorized):
        keys.authenticate(db, "pk_unknown")
    with pytest.raises(NotFound):
        keys.revoke_key(db, key)


def test_bootstrap_registration_is_idempotent(db: Session) -> None:
    first = keys.register_key(db, "default", "sk_test_123", ["read_write", "admin"])
    second = keys.register_key(db, "default", "sk_test_123", ["read_write", "admin"])
    assert first == (first[0], True)
    assert second == (first[0], False)


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(InvalidInput):
        keys.parse_scopes("read,superuser")
    assert keys.parse_scopes("read_write, admin") == ["read_write", "admin"]

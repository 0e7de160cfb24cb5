"""API keys: made once, shown once, stored as a hash, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline.db.models import ApiKey, Organization
from pipeline.errors import Forbidden, InvalidInput, NotFound, Unauthorized

SCOPES = ("read", "read_write", "admin", "operator")
# A scope grants itself and the ones listed here. `operator` acts on the whole
# installation (index generations, any organization's reprocessing).
IMPLIED = {"read_write": {"read"}, "admin": set(), "operator": {"admin"}}
KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organization a request acts for and what its key may do."""

    org_id: int
    key_id: int
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This API key lacks the '{scope}' scope")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def effective_scopes(scopes: list[str]) -> frozenset[str]:
    granted = set(scopes)
    for scope in scopes:
        granted |= IMPLIED.get(scope, set())
    return frozenset(granted)


def parse_scopes(text: str) -> list[str]:
    """`read_write,admin` -> ['read_write', 'admin'], refusing unknown names."""
    scopes = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise InvalidInput(f"Scopes must be among {', '.join(SCOPES)}; got {text!r}")
    return scopes


def ensure_org(session: Session, name: str) -> int:
    """The id of organization `name`, created if missing (safe under concurrency)."""
    session.execute(insert(Organization).values(name=name).on_conflict_do_nothing())
    return session.execute(select(Organization.id).where(Organization.name == name)).scalar_one()


def org_id(session: Session, name: str) -> int:
    """The id of organization `name`; NOT_FOUND if there is none."""
    found = session.execute(select(Organization.id).where(Organization.name == name)).scalar()
    if found is None:
        raise NotFound(f"No organization named {name!r}")
    return found


def register_key(
    session: Session, org: str, key: str, scopes: list[str], name: str = ""
) -> tuple[int, bool]:
    """Store `key` for `org`; idempotent for the same key. Returns (key id, created)."""
    org_id = ensure_org(session, org)
    digest = hash_key(key)
    row = session.execute(
        insert(ApiKey)
        .values(org_id=org_id, name=name, prefix=key[:12], key_hash=digest, scopes=scopes)
        .on_conflict_do_nothing(index_elements=["key_hash"])
        .returning(ApiKey.id)
    ).scalar_one_or_none()
    if row is not None:
        return row, True
    existing = session.execute(select(ApiKey).where(ApiKey.key_hash == digest)).scalar_one()
    if existing.org_id != org_id:
        raise InvalidInput("This key is already registered to another organization")
    if existing.revoked_at is not None:
        raise InvalidInput("This key was revoked and cannot be registered again")
    existing.scopes = sorted(set(existing.scopes) | set(scopes))
    return existing.id, False


def new_key() -> str:
    """A fresh random key: 256 bits, which is why a plain SHA-256 is enough to store it."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(session: Session, org: str, scopes: list[str], name: str = "") -> str:
    """Make a new random key for `org`; the clear text exists only in the return value."""
    key = new_key()
    register_key(session, org, key, scopes, name)
    return key


def revoke_key(session: Session, key_or_prefix: str) -> int:
    """Revoke a key given in full or by its shown prefix; returns how many were revoked."""
    condition = (
        ApiKey.key_hash == hash_key(key_or_prefix)
        if len(key_or_prefix) > 12
        else ApiKey.prefix == key_or_prefix
    )
    revoked = session.execute(
        update(ApiKey)
        .where(condition, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(ApiKey.id)
    ).all()
    if not revoked:
        raise NotFound(f"No active key matches {key_or_prefix[:12]!r}")
    return len(revoked)


def authenticate(session: Session, key: str | None) -> Principal:
    """The principal behind `key`, or Unauthorized for a missing, unknown or revoked key."""
    if not key:
        raise Unauthorized("Missing API key: send 'Authorization: x-api-key: <key>'")
    row = session.execute(
        select(ApiKey.id, ApiKey.org_id, ApiKey.scopes, ApiKey.revoked_at).where(
            ApiKey.key_hash == hash_key(key)
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key")
    return Principal(org_id=row.org_id, key_id=row.id, scopes=effective_scopes(row.scopes))

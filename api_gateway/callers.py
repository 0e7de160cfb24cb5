"""Who is calling, remembered for a few seconds by each gateway process.

Every authenticated request needs its key's organization and scopes and that
organization's rate limits: a transaction of two reads in PostgreSQL, which was
the larger part of the gateway's own time on a `/chunks` call (bench-query). A
process keeps what it read for `gateway.auth_cache_s` (default 5 s), so a revoked
key or changed limits take effect within that time. A missing, unknown or revoked
key is never remembered: it is looked up again on every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cachetools import TTLCache
from sqlalchemy import Engine

from pipeline import keys, limits
from pipeline.config import Settings
from pipeline.db.engine import session_scope
from pipeline.errors import NotFound
from pipeline.webhooks import sources

MAX_KEYS = 10_000  # distinct keys remembered per process; the least recent go first


@dataclass(frozen=True)
class Caller:
    principal: keys.Principal
    limits: limits.OrgLimits


class Callers:
    """`lookup(key)`: the caller behind an API key, from memory while it is fresh."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._defaults = settings.ratelimit
        ttl = settings.gateway.auth_cache_s
        self._known: TTLCache[str, Caller] | None = (
            TTLCache(maxsize=MAX_KEYS, ttl=ttl) if ttl > 0 else None
        )
        self._lock = threading.Lock()  # TTLCache is not thread-safe; handlers run in threads

    def known(self, key: str | None) -> Caller | None:
        """The caller, if this process read its key within `gateway.auth_cache_s`: from
        memory, without waiting on anything (the event loop asks this first)."""
        if self._known is None or not key:
            return None
        digest = keys.hash_key(key)
        with self._lock:
            return self._known.get(digest)

    def lookup(self, key: str | None) -> Caller:
        """Raises Unauthorized for a missing, unknown or revoked key."""
        if (known := self.known(key)) is not None:
            return known
        digest = keys.hash_key(key) if key else ""
        with session_scope(self._engine) as session:
            principal = keys.authenticate(session, key)
            caller = Caller(principal, limits.org_limits(session, principal.org_id, self._defaults))
        if self._known is not None:
            with self._lock:
                self._known[digest] = caller
        return caller


class Sources:
    """`lookup(source_id)`: a webhook source and its organization's limits, from memory
    while fresh (`gateway.auth_cache_s`, like keys: a rotation or a deletion takes effect
    within it). An unknown source is looked up again every time."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._defaults = settings.ratelimit
        ttl = settings.gateway.auth_cache_s
        self._known: TTLCache[str, tuple[sources.Source, limits.OrgLimits]] | None = (
            TTLCache(maxsize=MAX_KEYS, ttl=ttl) if ttl > 0 else None
        )
        self._lock = threading.Lock()

    def lookup(self, source_id: str) -> tuple[sources.Source, limits.OrgLimits]:
        """Raises NotFound for an unknown source."""
        if self._known is not None:
            with self._lock:
                known = self._known.get(source_id)
            if known is not None:
                return known
        with session_scope(self._engine) as session:
            source = sources.find(session, source_id)
            if source is None:
                raise NotFound(f"No webhook source found with ID {source_id}")
            found = (source, limits.org_limits(session, source.org_id, self._defaults))
        if self._known is not None:
            with self._lock:
                self._known[source_id] = found
        return found

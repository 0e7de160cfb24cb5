"""Where summaries are kept and how a reader knows one is fresh, without touching a worker.

A summary is stored per user and per request parameters (purpose, max_chars,
freshness_days) in Postgres, the truth, with a hot copy in Redis under the
user's prefix (`keyspace.user_key(user_pk, "summary", key)`). Each carries the
*version* of the data it was written from:

- the user's data sequence: the largest `index_seq` of the user's items. Every
  live indexing transaction draws a new one for each item it indexes, under the
  user's lock, so this number grows exactly when new indexed data lands,
  including a document replaced by new content. A reindex draws none: the same
  data in a new generation is not new data, and the stored text keeps serving
  until `persona summaries rebuild` replaces it;
- a hash of the traits;
- the freshness window's first day (windows move by whole UTC days, so a
  windowed summary is stable within a day);
- the generator (the extractive algorithm's revision, or the LLM model).

A reader computes the current version with one indexed query and serves the
stored text only if its version is the current one. The version is read
before the data a summary is written from, so a summary is never labelled
newer than what it says. This module imports no ML: the gateway uses it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import keyspace, users
from pipeline.config import Settings
from pipeline.db.models import Item, Summary, User
from pipeline.schemas import SummaryQuery
from pipeline.status import SummarySource
from pipeline.summaries import purposes, traits

EXTRACTIVE = "extractive-1"  # bump when the extractive text for the same data changes
LLM = "llm-1"  # bump when the LLM prompt changes: stored LLM summaries are then rewritten
DEFAULT_MAX_CHARS = SummaryQuery.model_fields["max_chars"].default


@dataclass(frozen=True)
class Params:
    """What makes two requests ask for the same text."""

    purpose: str  # normalized (purposes.normalize)
    max_chars: int
    freshness_days: int | None

    @classmethod
    def of(cls, query: SummaryQuery) -> Params:
        return cls(purposes.normalize(query.purpose), query.max_chars, query.freshness_days)

    @property
    def key(self) -> str:
        raw = json.dumps([self.purpose, self.max_chars, self.freshness_days])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def since(self, today: date) -> datetime | None:
        """Start of the freshness window: midnight UTC `freshness_days` before today."""
        if self.freshness_days is None:
            return None
        start = today - timedelta(days=self.freshness_days)
        return datetime(start.year, start.month, start.day, tzinfo=UTC)


GENERAL = Params(purposes.DEFAULT, DEFAULT_MAX_CHARS, None)


@dataclass(frozen=True)
class Version:
    data_seq: int
    traits: str
    window: str
    generator: str

    def __str__(self) -> str:
        return f"{self.data_seq}.{self.traits}.{self.window}.{self.generator}"


@dataclass(frozen=True)
class Stored:
    """A summary as served: its text, when that text was generated, and its version."""

    summary: str
    generated_at: datetime
    version: str
    source: str  # a SummarySource
    computed_at: datetime
    input_hash: str = ""  # what the text was written from (see generate.input_hash)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "generated_at": self.generated_at.isoformat(),
            "version": self.version,
            "source": self.source,
            "computed_at": self.computed_at.isoformat(),
            "input_hash": self.input_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stored:
        return cls(
            summary=data["summary"],
            generated_at=datetime.fromisoformat(data["generated_at"]),
            version=data["version"],
            source=data["source"],
            computed_at=datetime.fromisoformat(data["computed_at"]),
            input_hash=data.get("input_hash", ""),
        )


@dataclass(frozen=True)
class Profile:
    """The user as a summary sees them."""

    pk: int
    org_id: int
    user_id: str
    traits: dict[str, Any]
    status: str


def generator(settings: Settings) -> str:
    """What writes the text, in every summary's version: the extractive algorithm's
    revision, or the prompt's revision and the model, so a new model rewrites them."""
    if not settings.llm.enabled:
        return EXTRACTIVE
    endpoint = f"{settings.llm.base_url}|{settings.llm.model}"
    return f"{LLM}:{hashlib.sha256(endpoint.encode()).hexdigest()[:10]}"


def today() -> date:
    return datetime.now(UTC).date()


def hot_key(user_pk: int, params: Params) -> str:
    return keyspace.user_key(user_pk, "summary", params.key)


def as_profile(user: User) -> Profile:
    return Profile(user.id, user.org_id, user.user_id, dict(user.traits or {}), user.status)


def profile(session: Session, org_id: int, user_id: str) -> Profile:
    """The user as a summary sees them; USER_NOT_FOUND if there is no such user."""
    return as_profile(users.find(session, org_id, user_id))


def data_seq(session: Session, user_pk: int) -> int:
    """The user's data sequence (see the module docstring); one index probe."""
    found = session.execute(select(func.max(Item.index_seq)).where(Item.user_pk == user_pk))
    return found.scalar_one() or 0


def version(
    session: Session, user: Profile, params: Params, settings: Settings, day: date
) -> Version:
    since = params.since(day)
    return Version(
        data_seq(session, user.pk),
        traits.digest(user.traits),
        since.date().isoformat() if since else "all",
        generator(settings),
    )


def _fresh(stored: Stored | None, current: Version, settings: Settings) -> Stored | None:
    if stored is None or stored.version != str(current):
        return None
    if stored.source == SummarySource.FALLBACK:
        age = datetime.now(UTC) - stored.computed_at
        if age.total_seconds() > settings.summaries.llm_retry_s:
            return None  # give the LLM another chance
    return stored


def read_fresh(
    session: Session,
    cache: redis.Redis,
    user: Profile,
    params: Params,
    current: Version,
    settings: Settings,
) -> Stored | None:
    """The stored summary if it was written from the current data: Redis first, then
    Postgres, which refills Redis if the user's lock is free at once (never waiting
    behind an erasure, never writing a key after one). None means it must be computed."""
    raw = cache.get(hot_key(user.pk, params))
    if raw is not None and (hot := _fresh(Stored.from_json(json.loads(raw)), current, settings)):
        return hot
    row = session.execute(
        select(Summary).where(Summary.user_pk == user.pk, Summary.cache_key == params.key)
    ).scalar_one_or_none()
    stored = _fresh(_stored(row), current, settings) if row is not None else None
    if stored is not None and users.hold(session, user.pk, wait=False):
        put_hot(cache, user.pk, params, stored, settings)
    return stored


def lookup(
    session: Session, cache: redis.Redis, org_id: int, query: SummaryQuery, settings: Settings
) -> Stored | None:
    """The gateway's read: the fresh stored summary, or None. Raises UserNotFound."""
    user = profile(session, org_id, query.user_id)
    params = Params.of(query)
    current = version(session, user, params, settings, today())
    return read_fresh(session, cache, user, params, current, settings)


def _stored(row: Summary) -> Stored:
    return Stored(
        row.summary, row.generated_at, row.version, row.source, row.computed_at, row.input_hash
    )


def all_stored(session: Session, user_pk: int) -> dict[Params, Stored]:
    """Every summary stored for the user, fresh or not, by its parameters."""
    rows = session.execute(select(Summary).where(Summary.user_pk == user_pk)).scalars()
    return {Params(r.purpose, r.max_chars, r.freshness_days): _stored(r) for r in rows}


def put_hot(
    cache: redis.Redis, user_pk: int, params: Params, stored: Stored, settings: Settings
) -> None:
    ttl = settings.summaries.cache_ttl_s
    if stored.source == SummarySource.FALLBACK:
        ttl = max(1, int(settings.summaries.llm_retry_s))
    cache.set(hot_key(user_pk, params), json.dumps(stored.to_json()), ex=ttl)


def save(
    session: Session,
    user_pk: int,
    params: Params,
    current: Version,
    summary: str,
    source: str,
    input_hash: str,
    *,
    refresh: bool = False,
) -> Stored:
    """Upsert the summary for `params`. If the text is unchanged, its `generated_at` is
    kept: the same text keeps the same date, so its ETag does not change either. A
    computation from older data than the stored one does not overwrite it."""
    now = session.execute(select(func.now())).scalar_one()
    stmt = insert(Summary).values(
        user_pk=user_pk,
        cache_key=params.key,
        purpose=params.purpose,
        max_chars=params.max_chars,
        freshness_days=params.freshness_days,
        version=str(current),
        data_seq=current.data_seq,
        input_hash=input_hash,
        summary=summary,
        source=source,
        generated_at=now,
        computed_at=now,
        refreshes=1 if refresh else 0,
    )
    new = stmt.excluded
    row = session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_summaries_user_key",
            set_={
                "version": new.version,
                "data_seq": new.data_seq,
                "input_hash": new.input_hash,
                "source": new.source,
                "computed_at": new.computed_at,
                "generated_at": case(
                    (Summary.summary == new.summary, Summary.generated_at),
                    else_=new.generated_at,
                ),
                "summary": new.summary,
                "refreshes": Summary.refreshes + new.refreshes,
            },
            where=Summary.data_seq <= new.data_seq,
        ).returning(Summary)
    ).scalar_one_or_none()
    if row is None:  # a newer summary is stored already: serve that one
        row = session.execute(
            select(Summary).where(Summary.user_pk == user_pk, Summary.cache_key == params.key)
        ).scalar_one()
    return _stored(row)


def stored_params(session: Session, user_pk: int, limit: int | None) -> list[Params]:
    """The sets of parameters asked for this user before (the newest `limit`, or all),
    most recently computed first, with the default `general` summary always among them."""
    rows = session.execute(
        select(Summary.purpose, Summary.max_chars, Summary.freshness_days)
        .where(Summary.user_pk == user_pk)
        .order_by(Summary.computed_at.desc(), Summary.id)
        .limit(limit)
    ).all()
    found = [Params(r.purpose, r.max_chars, r.freshness_days) for r in rows]
    if GENERAL in found:
        return found
    return [GENERAL, *(found if limit is None else found[: limit - 1])]

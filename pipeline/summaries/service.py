"""Summaries computed: on demand (a cold request) and ahead of time (ingestion settled).

Both paths write the same text from the same data: the traits sentences the
purpose asks for, then its facts, composed to `max_chars`. The version is read
before the data (see `store`), and every result is saved in Postgres and copied
to Redis, where the gateway finds it next time without asking a worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline import llm, users
from pipeline.config import LLMSettings
from pipeline.db.engine import session_scope
from pipeline.db.models import User
from pipeline.errors import transient_is_retryable
from pipeline.runtime import Runtime
from pipeline.schemas import SummaryQuery
from pipeline.status import EventType, SummarySource, UserStatus
from pipeline.summaries import debounce, facts, generate, purposes, store, traits, writing
from pipeline.summaries.store import Params, Profile, Stored, Version
from pipeline.webhooks import outbox

log = logging.getLogger("persona.summaries")

FactsCache = dict[tuple[str, datetime | None], list[facts.Fact]]


@dataclass(frozen=True)
class Written:
    text: str
    source: str
    input_hash: str


def write(
    runtime: Runtime,
    user: Profile,
    params: Params,
    day: date,
    *,
    seen: FactsCache | None = None,
    previous: Stored | None = None,
    llm_settings: LLMSettings | None = None,
) -> Written:
    """The summary text for `params` from the user's current data.

    `seen` shares the facts of one purpose and window between several lengths of the
    same summary. With an LLM configured (`llm_settings`, default the runtime's), the
    text is generated from the same sentences, unless `previous` (the stored summary)
    was generated from the very same prompt: then it is reused as it is. When the LLM
    fails, the extractive text is the answer, marked `fallback`.
    """
    settings = runtime.settings
    purpose = purposes.resolve(params.purpose)
    since = params.since(day)
    said = traits.sentences(user.traits, user.user_id, purpose.traits)
    seen = {} if seen is None else seen
    if (purpose.key, since) not in seen:
        seen[(purpose.key, since)] = facts.select_facts(
            runtime,
            user.org_id,
            user.pk,
            purpose,
            since,
            settings.summaries.candidates,
            avoid=said,
        )
    sentences = said + [f.text for f in seen[(purpose.key, since)]]
    text = writing.compose(sentences, params.max_chars)
    llm_settings = llm_settings or settings.llm
    if not llm_settings.enabled:
        raw = json.dumps([store.EXTRACTIVE, params.max_chars, sentences], ensure_ascii=False)
        return Written(text, SummarySource.EXTRACTIVE, hashlib.sha256(raw.encode()).hexdigest())
    request = generate.prompt(purpose, sentences, params.max_chars)
    input_hash = generate.input_hash(store.generator(settings), request)
    if (
        previous is not None
        and previous.source == SummarySource.LLM
        and previous.input_hash == input_hash
    ):
        return Written(previous.summary, SummarySource.LLM, input_hash)
    try:
        generated = generate.generate(llm_settings, request, params.max_chars)
    except llm.LLMUnavailable as exc:
        log.warning("LLM unavailable, summary of user %d is extractive: %s", user.pk, exc)
        return Written(text, SummarySource.FALLBACK, input_hash)
    return Written(generated, SummarySource.LLM, input_hash)


def _save(
    runtime: Runtime,
    user: Profile,
    params: Params,
    current: Version,
    written: Written,
    *,
    refresh: bool,
) -> Stored:
    """Store and cache `written` under the user's lock, unless the user is being deleted
    (then it is only answered): an erasure never finds a summary written after it."""
    with session_scope(runtime.engine) as session:
        if not users.hold(session, user.pk):
            now = datetime.now(UTC)
            return Stored(written.text, now, str(current), written.source, now, written.input_hash)
        stored = store.save(
            session,
            user.pk,
            params,
            current,
            written.text,
            written.source,
            written.input_hash,
            refresh=refresh,
        )
        store.put_hot(runtime.redis, user.pk, params, stored, runtime.settings)
        if stored.generated_at == stored.computed_at:  # new text (the same keeps its date)
            data = {
                "user_id": user.user_id,
                "purpose": params.purpose,
                "max_chars": params.max_chars,
                "freshness_days": params.freshness_days,
                "generated_at": stored.generated_at.isoformat(),
            }
            outbox.emit(session, user.org_id, EventType.SUMMARY_UPDATED, data, user.pk)
    return stored


def summarize(runtime: Runtime, org_id: int, query: SummaryQuery) -> Stored:
    """A cold request (the `retrieval` queue): the stored summary if another worker
    has just written it, else computed now, saved and cached."""
    settings = runtime.settings
    params = Params.of(query)
    day = store.today()
    with session_scope(runtime.engine) as session:
        user = store.profile(session, org_id, query.user_id)
        current = store.version(session, user, params, settings, day)
        found = store.read_fresh(session, runtime.redis, user, params, current, settings)
        previous = store.all_stored(session, user.pk).get(params) if found is None else None
    if found is not None:
        return found
    # Someone is waiting: the LLM gets half the gateway's patience, then the extractive
    # text answers (and is recomputed with the LLM after `summaries.llm_retry_s`).
    patience = min(settings.llm.timeout_s, settings.gateway.rpc_timeout_s / 2)
    quick = settings.llm.model_copy(update={"timeout_s": patience})
    written = write(runtime, user, params, day, previous=previous, llm_settings=quick)
    return _save(runtime, user, params, current, written, refresh=False)


def refresh_user(
    runtime: Runtime, user_pk: int, *, purpose: str | None = None, every: bool = False
) -> int:
    """Recompute `general` and every summary asked for this user before (the newest
    `summaries.max_refreshed`, or `every` one stored: a rebuild), counting a refresh on
    each; with `purpose`, only that purpose's. Returns how many were written. The stored
    text serves until each new one replaces it."""
    settings = runtime.settings
    day = store.today()
    with session_scope(runtime.engine) as session:
        user = _active_profile(session, user_pk)
        if user is None:
            return 0
        limit = None if every else settings.summaries.max_refreshed
        wanted = store.stored_params(session, user_pk, limit)
        if purpose is not None:
            wanted = [p for p in wanted if p.purpose == purpose]
        versions = {p: store.version(session, user, p, settings, day) for p in wanted}
        previous = store.all_stored(session, user_pk)
    seen: FactsCache = {}
    for params in wanted:
        written = write(runtime, user, params, day, seen=seen, previous=previous.get(params))
        _save(runtime, user, params, versions[params], written, refresh=True)
    log.info("refreshed %d summaries of user %d", len(wanted), user_pk)
    return len(wanted)


def _active_profile(session: Session, user_pk: int) -> Profile | None:
    user = session.get(User, user_pk)
    if user is None or user.status != UserStatus.ACTIVE:
        return None  # deleted or being deleted: nothing to refresh
    return store.as_profile(user)


@dataclass(frozen=True)
class Due:
    """A settle check to schedule for `user_pk` in `delay_s` seconds."""

    user_pk: int
    delay_s: float


def note_ingested(runtime: Runtime, user_pks: set[int]) -> list[Due]:
    """After a batch of ingest jobs wrote these users' items: mark each user's summaries
    due once ingestion is quiet; a check is returned only for the first batch of a burst.

    Failing here is logged, not raised: the data is indexed either way, and a missed
    refresh costs one computation on the next request, never a stale answer (the
    version check sees the new data).
    """
    due = []
    try:
        quiet_s = runtime.settings.summaries.quiet_s
        with session_scope(runtime.engine) as session:
            for user_pk in sorted(user_pks):
                # Under the user's lock, and only for an active user: no mark after an erasure.
                if users.hold(session, user_pk) and debounce.note(runtime.redis, user_pk, quiet_s):
                    due.append(Due(user_pk, quiet_s))
    except (RedisError, SQLAlchemyError) as exc:
        log.warning("could not schedule summary refreshes after a batch: %s", exc)
    return due


def settle(runtime: Runtime, user_pk: int, *, claimed: bool = False) -> float | None:
    """The delayed check of `debounce`: refresh if this check wins the claim; returns
    the seconds to wait before checking again while ingestion is still going on.

    `claimed` is for a retry of a check that won but whose refresh failed: the claim
    is spent, so the retry refreshes without claiming again.
    """
    if not claimed:
        outcome = debounce.claim(runtime.redis, user_pk, runtime.settings.summaries.quiet_s)
        if outcome.wait_s is not None:
            return outcome.wait_s
        if not outcome.claimed:
            return None
    with transient_is_retryable():
        refresh_user(runtime, user_pk)
    return None

"""`Persona` against the running system over HTTP: every answer read into its generated
model, every failure an exception carrying the envelope, and no 4xx but 429 sent twice."""

from __future__ import annotations

import re

import httpx
import pytest
from persona_client import (
    Conflict,
    NotFound,
    Persona,
    Unauthorized,
    UnprocessableEntity,
    models,
)
from persona_client.calls import JSON, Call, reader
from sqlalchemy import Engine

from tests.clients.conftest import Exchanges
from tests.conftest import Tenant, set_user_status
from tests.helpers import FACTS, events

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_register_get_and_update_a_user(persona: Persona, user_id: str) -> None:
    registered = persona.register(user_id, traits={"name": "Ash", "prefs": {"tz": "UTC"}})
    assert isinstance(registered, models.RegisterResponse)
    assert (registered.user_id, registered.status) == (user_id, models.UserStatus.active)
    assert persona.get_user(user_id).metadata == {"name": "Ash", "prefs": {"tz": "UTC"}}

    updated = persona.update_user(user_id, metadata={"prefs": {"seat": "window"}}, purpose="trips")
    assert updated.metadata == {"name": "Ash", "prefs": {"tz": "UTC", "seat": "window"}}
    assert updated.purpose == "trips"
    assert persona.get_user(user_id) == updated
    # seed 003's create: the existing user comes back unchanged, its metadata ignored
    assert persona.create_user(user_id, metadata={"name": "Other"}) == updated


def test_ingest_wait_then_chunks_query_and_summary_find_it(
    persona: Persona, worker, user_id: str
) -> None:
    accepted = persona.ingest(user_id, events=events(FACTS), source="chat")
    assert (accepted.ingested.events, accepted.duplicates) == (len(FACTS), 0)

    job = persona.wait_for_job(accepted.job_id)
    assert job.status == models.JobStatus.succeeded
    assert job.counts.items == len(FACTS)

    found = persona.chunks(user_id, "When is the stand-up meeting?", top_k=3)
    assert "evt_0" in [c.event_id for c in found.chunks]
    assert all(c.source == "chat" for c in found.chunks)

    reply = persona.query(user_id, "Where is Maya's birthday dinner?")
    assert reply.user_id == user_id
    assert any("Casa Lupita" in s.text for s in reply.sources)

    summary = persona.summary(user_id, purpose="preferences", max_chars=300)
    assert (summary.user_id, summary.purpose) == (user_id, "preferences")
    assert 0 < len(summary.summary) <= 300


def test_a_deleted_user_is_a_not_found_error_with_the_envelope(
    persona: Persona, worker, user_id: str, exchanges: Exchanges
) -> None:
    persona.register(user_id, traits={"name": "Gone"})
    accepted = persona.delete(user_id)
    assert accepted.status == "deleting"
    erased = persona.wait_for_job(accepted.job_id)
    assert erased.result is not None

    exchanges.clear()
    with pytest.raises(NotFound) as caught:
        persona.get_user(user_id)
    error = caught.value
    assert (error.status, error.code) == (404, "USER_NOT_FOUND")
    assert user_id in error.message
    assert error.request_id is not None
    assert ULID.match(error.request_id)
    assert error.request_id == exchanges.responses[0].headers["X-Request-Id"]
    assert len(exchanges.requests) == 1


def test_delete_user_by_the_v1_route(persona: Persona, worker, user_id: str) -> None:
    persona.create_user(user_id)
    persona.wait_for_job(persona.delete_user(user_id).job_id)
    with pytest.raises(NotFound):
        persona.footprint(user_id)


@pytest.mark.parametrize("case", ["401", "404", "409", "422"])
def test_a_4xx_other_than_429_is_sent_once(
    case: str, gateway: str, tenant: Tenant, engine: Engine, user_id: str
) -> None:
    exchanges = Exchanges()
    key = "pk_not_a_key_of_anyone" if case == "401" else tenant.key
    if case == "409":
        tenant.client.put("/register", json={"user_id": user_id}).raise_for_status()
        set_user_status(engine, tenant.org, user_id, "deleting")
    with (
        httpx.Client(timeout=30, event_hooks=exchanges.hooks()) as http,
        Persona(gateway, key, http_client=http) as persona,
    ):
        expected: type[Exception] = {
            "401": Unauthorized,
            "404": NotFound,
            "409": Conflict,
            "422": UnprocessableEntity,
        }[case]
        # 422: a body the SDK's models would refuse, sent as it is
        body = b'{"user_id":7}'
        bad = Call("POST", "/v1/end-users", reader(models.EndUser), body=body, headers=JSON)
        with pytest.raises(expected) as caught:
            persona.send(bad) if case == "422" else persona.update_user(user_id, metadata={})
    assert caught.value.status == int(case)
    assert len(exchanges.requests) == 1

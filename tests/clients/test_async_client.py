"""`AsyncPersona` on the main path, against the running system: the same calls as
`Persona`, awaited."""

from __future__ import annotations

import asyncio

import pytest
from persona_client import AsyncPersona, NotFound, models

from tests.conftest import Tenant
from tests.helpers import FACTS, events


def test_the_async_client_does_the_main_path(
    gateway: str, worker, tenant: Tenant, user_id: str
) -> None:
    async def main_path() -> None:
        async with AsyncPersona(gateway, tenant.key, timeout=60) as persona:
            registered = await persona.register(user_id, traits={"name": "Ash"})
            assert registered.status == models.UserStatus.active
            updated = await persona.update_user(user_id, metadata={"role": "founder"})
            assert updated.metadata == {"name": "Ash", "role": "founder"}

            summary = await persona.ingest_many(user_id, events(FACTS), batch_size=2)
            assert (summary.events, len(summary.job_ids)) == (len(FACTS), 3)
            jobs = await asyncio.gather(*(persona.wait_for_job(j) for j in summary.job_ids))
            assert {job.status for job in jobs} == {models.JobStatus.succeeded}

            found = await persona.chunks(user_id, "When is the dentist appointment?", top_k=3)
            assert "evt_2" in [c.event_id for c in found.chunks]
            reply = await persona.query(user_id, "Which seat do I prefer on flights?")
            assert any("window" in s.text for s in reply.sources)
            text = await persona.summary(user_id, max_chars=200)
            assert text.purpose == "general"
            assert len(text.summary) <= 200

            erased = await persona.delete(user_id)
            await persona.wait_for_job(erased.job_id)
            with pytest.raises(NotFound) as caught:
                await persona.get_user(user_id)
            assert (caught.value.status, caught.value.code) == (404, "USER_NOT_FOUND")
            assert caught.value.request_id

    asyncio.run(main_path())

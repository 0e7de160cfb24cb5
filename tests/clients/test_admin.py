"""The SDK's admin methods against running processes: webhook sources (a producer's
message signed by the SDK and verified by the gateway), webhook endpoints and their
deliveries, and the reprocessing jobs of one user."""

from __future__ import annotations

import pytest
from persona_client import Forbidden, NotFound, Persona, Unauthorized, models

from tests.conftest import BOOTSTRAP_KEY, System, Tenant
from tests.fakes.webhook_receiver import webhook_receiver
from tests.helpers import FACTS, WEBHOOK_SETTINGS, events, wait_for

WRONG_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def test_sources_endpoints_and_deliveries(make_system, tenant: Tenant, user_id: str) -> None:
    deployment: System = make_system(**WEBHOOK_SETTINGS)
    deployment.start_gateway()
    deployment.start_worker()
    deployment.start_beat()
    with Persona(deployment.url, tenant.key) as persona, webhook_receiver() as receiver:
        source = persona.create_source(f"crm-{user_id}")
        body = {"user_id": user_id, "source": "crm", "events": events(FACTS[:2])}
        accepted = persona.send_webhook(source.source_id, source.secret, body)
        assert accepted.ingested.events == 2
        # no webhook_id given: the same payload is the same message, its items duplicates
        again = persona.send_webhook(source.source_id, source.secret, body)
        assert again.duplicates == 2
        for job_id in (accepted.job_id, again.job_id):
            persona.wait_for_job(job_id)
        with pytest.raises(Unauthorized) as refused:
            persona.send_webhook(source.source_id, WRONG_SECRET, body)
        assert refused.value.code == "INVALID_SIGNATURE"
        rotated = persona.rotate_source(source.source_id)
        assert rotated.secret != source.secret
        listed = persona.list_sources().sources
        assert [s.source_id for s in listed] == [source.source_id]
        persona.delete_source(source.source_id)
        with pytest.raises(NotFound):
            persona.rotate_source(source.source_id)

        endpoint = persona.create_webhook_endpoint(receiver.url, ["job.succeeded"], "agent")
        receiver.secret = endpoint.secret
        assert [e.endpoint_id for e in persona.list_webhook_endpoints().endpoints] == [
            endpoint.endpoint_id
        ]
        job = persona.ingest(user_id, events=events(FACTS[2:3], prefix="later"))
        persona.wait_for_job(job.job_id)

        def delivered() -> list[models.DeliveryOut]:
            found = persona.list_deliveries(endpoint.endpoint_id).deliveries
            return [d for d in found if d.status == models.DeliveryStatus.succeeded]

        [delivery] = wait_for(delivered, timeout=30, what="the job.succeeded delivery")
        persona.retry_delivery(endpoint.endpoint_id, delivery.delivery_id)
        wait_for(lambda: len(receiver.deliveries) == 2, timeout=30, what="the re-sent delivery")
        assert receiver.deliveries[0].webhook_id == receiver.deliveries[1].webhook_id
        assert all(d.verified for d in receiver.deliveries)
        persona.delete_webhook_endpoint(endpoint.endpoint_id)
        assert persona.list_webhook_endpoints().endpoints == []


def test_reprocessing_one_user(gateway: str, persona: Persona, worker, user_id: str) -> None:
    accepted = persona.ingest(user_id, events=events(FACTS[:3]))
    persona.wait_for_job(accepted.job_id)
    persona.summary(user_id)
    for started in (
        persona.reindex(user_id=user_id),
        persona.verify_index(user_id=user_id),
        persona.rebuild_summaries(user_id=user_id),
    ):
        assert persona.wait_for_job(started.job_id).status == models.JobStatus.succeeded
    assert persona.footprint(user_id).postgres["items"] == 3
    with pytest.raises(Forbidden):  # an admin key of one organization; generations are global
        persona.list_generations()
    with Persona(gateway, BOOTSTRAP_KEY) as operator:
        generations = operator.list_generations().generations
    assert [g.state for g in generations].count("active") == 1

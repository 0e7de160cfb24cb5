"""An endpoint whose every delivery fails is disabled, and says why.

Its own module, so that no other deployment's beat (which looks for due deliveries in the
shared test database) attempts its deliveries under other settings meanwhile.
"""

from __future__ import annotations

from tests.fakes.webhook_receiver import webhook_receiver
from tests.helpers import WEBHOOK_SETTINGS, ingest_one, new_endpoint, org_client, wait_for, wait_job


def test_an_endpoint_that_keeps_failing_is_disabled(make_system, engine) -> None:
    system = make_system(
        **{**WEBHOOK_SETTINGS, "PERSONA_WEBHOOKS_DISABLE_AFTER_S": "2"},
    )
    system.start_gateway()
    system.start_worker()
    system.start_beat()
    admin = org_client(system.url, engine, ("read_write", "admin"))
    with webhook_receiver() as receiver:
        receiver.fail_first = 10**6
        endpoint = new_endpoint(admin, receiver, ["job.succeeded"])
        ingest_one(admin, "x1", "fail")

        def disabled() -> dict | None:
            [one] = admin.get("/v1/webhook-endpoints").json()["endpoints"]
            return one if one["disabled_at"] else None

        shown = wait_for(disabled, timeout=60, what="the endpoint to be disabled")
        assert shown["endpoint_id"] == endpoint["endpoint_id"]
        assert "failed" in shown["disabled_reason"]
        path = f"/v1/webhook-endpoints/{endpoint['endpoint_id']}/deliveries"
        assert [d["status"] for d in admin.get(path).json()["deliveries"]] == ["failed"]
        assert wait_job(admin, ingest_one(admin, "x1", "after"))["status"] == "succeeded"
        assert len(admin.get(path).json()["deliveries"]) == 1, "a disabled endpoint gets nothing"
    admin.close()

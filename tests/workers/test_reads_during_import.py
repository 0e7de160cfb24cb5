"""A read is answered while an import holds the worker's embedding slots: the jobs that
find no free slot go back on the queue instead of holding every thread, and none of
them is lost."""

from __future__ import annotations

import httpx

from tests.conftest import BOOTSTRAP_KEY, System
from tests.helpers import events, wait_job

JOBS = 3  # as many as the worker has threads: every thread would hold a job
EVENTS_PER_JOB = 600  # seconds of embedding each, on one slot


def test_a_read_is_answered_before_the_first_job_of_an_import_ends(make_system) -> None:
    deployment: System = make_system(PERSONA_EMBEDDING_PARALLEL="1")
    deployment.start_gateway()
    deployment.start_worker(concurrency=JOBS)
    headers = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    with httpx.Client(base_url=deployment.url, headers=headers, timeout=60) as client:
        first = client.post(
            "/ingest",
            json={
                "user_id": "reader",
                "source": "calendar",
                "events": events(["Dentist appointment on Tuesday at 8 AM"], "r"),
            },
        )
        wait_job(client, first.json()["job_id"])
        jobs = [
            client.post(
                "/ingest",
                json={
                    "user_id": f"bulk{j}",
                    "source": "chat",
                    "events": events(
                        [
                            f"note {i} of import {j}: sync with person {i % 37}"
                            for i in range(EVENTS_PER_JOB)
                        ],
                        f"b{j}",
                    ),
                },
            ).json()["job_id"]
            for j in range(JOBS)
        ]

        found = client.post("/chunks", json={"user_id": "reader", "query": "dentist"})
        statuses = [client.get(f"/jobs/{job}").json()["status"] for job in jobs]

        assert found.status_code == 200
        assert found.json()["chunks"][0]["event_id"] == "r_0"
        assert "succeeded" not in statuses, statuses  # the read did not wait for a job
        for job in jobs:
            done = wait_job(client, job)
            assert done["status"] == "succeeded"
            assert done["counts"]["chunks"] == EVENTS_PER_JOB

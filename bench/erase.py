"""`make bench-erase`: how long erasing a user with 10,000 events takes, end to end.

Starts the whole system (`persona run`, embedded default) in a scratch folder,
ingests N events for one user through HTTP (and a smaller second user of the
same organization, who must survive), waits until they are indexed, then sends
`POST /delete` and times it until the erasure job has succeeded. Prints the wall
time seen by the client, the job's own time per store, what it removed and its
re-check. Ingesting 10,000 events through the model takes about a minute on a
2-core machine; the erasure is the figure.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench import corpus, system


def ingest(http: httpx.Client, user_id: str, n_events: int, batch: int) -> int:
    events = corpus.events(n_events)
    for e in events:
        e["event_id"] = f"{user_id}-{e['event_id']}"
    jobs = []
    for i in range(0, len(events), batch):
        body = {"user_id": user_id, "source": "bench", "events": events[i : i + batch]}
        response = http.post("/ingest", json=body)
        response.raise_for_status()
        jobs.append(response.json()["job_id"])
    return sum(job["counts"]["chunks"] for job in system.wait_jobs(http, jobs, poll_s=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per request")
    args = parser.parse_args()
    running = system.start()
    headers = {"Authorization": f"x-api-key: {running.key}"}
    try:
        with httpx.Client(base_url=running.url, headers=headers, timeout=120) as http:
            t0 = time.perf_counter()
            chunks = ingest(http, "erase_me", args.events, args.batch)
            kept_chunks = ingest(http, "keep_me", max(args.events // 10, 1), args.batch)
            ingest_s = time.perf_counter() - t0

            t1 = time.perf_counter()
            response = http.post("/delete", json={"user_id": "erase_me"})
            response.raise_for_status()
            accepted_ms = (time.perf_counter() - t1) * 1000
            (job,) = system.wait_jobs(http, [response.json()["job_id"]], poll_s=0.05)
            erase_s = time.perf_counter() - t1

            gone = http.get("/v1/end-users/erase_me").status_code
            kept = http.get("/v1/end-users/keep_me").status_code
    finally:
        running.stop()

    report = job["result"]
    print(f"\nerase benchmark: one user with {args.events} events ({chunks} chunks)")
    print(f"  ingest and index (setup)      {ingest_s:8.1f} s")
    print(f"  POST /delete answered (202)   {accepted_ms:8.1f} ms")
    print(f"  delete → job succeeded        {erase_s:8.2f} s  (client wall time, 50 ms polls)")
    stages = ", ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in job["timings"].items())
    print(f"  erasure job by store (ms):    {stages}")
    print(f"  removed: {report['removed']}")
    print(f"  re-check: {report['recheck']}")
    print(f"  afterwards: erased user {gone}, other user {kept} ({kept_chunks} chunks kept)")


if __name__ == "__main__":
    main()

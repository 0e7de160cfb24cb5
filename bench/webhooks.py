"""`make bench-webhooks`: what signed webhooks cost and how fast events go out.

Starts the whole system (`persona run`, embedded default) in a scratch folder and
a local receiver that verifies every delivery with the `standardwebhooks` library,
then measures, in one run:

1. inbound: signed one-event messages to `POST /webhooks/{source}` from 16
   concurrent senders, beside plain one-event `POST /ingest` requests from the
   same senders (alternated in rounds, so both see the same machine); requests
   per second and p50/p99 of each, and their ratio: what verification costs;
2. outbound: deliveries per second to the receiver, with a backlog of events
   waiting (jobs of duplicates end at once, each with its `job.succeeded`);
3. the time from a job's end (`finished_at`) to its `job.succeeded` arriving at
   the receiver, p50/p99, one job at a time.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from standardwebhooks.webhooks import Webhook

from bench import system
from bench.figures import pct

SENDERS = 16


class Receiver:
    """Records when each verified delivery arrived, by the job it reports."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}
        self.failed = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.time()
                try:
                    body = Webhook(receiver.secret).verify(raw, dict(self.headers.items()))
                    with receiver.lock:
                        receiver.arrived.setdefault(body["data"]["job_id"], at)
                except Exception:
                    with receiver.lock:
                        receiver.failed += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def burst(send: object, n: int) -> tuple[float, list[float]]:
    """`n` calls of `send(i)` from SENDERS threads: requests per second and latencies."""
    latencies: list[float] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        send(i)  # type: ignore[operator]
        latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(one, range(n)))
    return n / (time.perf_counter() - t0), latencies


def settle(engine: object, timeout_s: float = 1800) -> None:
    """Wait until no job is queued or running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            left = conn.execute(
                text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
            ).scalar_one()
        if not left:
            return
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="per kind and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=1000, help="events to deliver at once")
    parser.add_argument("--latency-jobs", type=int, default=40)
    args = parser.parse_args()
    receiver = Receiver()
    running = system.start({"PERSONA_WEBHOOKS_ALLOW_PRIVATE_URLS": "true"})
    run_file = json.loads((Path(running.log).parent / "run.json").read_text())
    engine = create_engine(run_file["database_url"])
    http = httpx.Client(
        base_url=running.url,
        headers={"X-API-Key": running.key},
        timeout=60,
        limits=httpx.Limits(max_connections=SENDERS * 2),
    )
    try:
        source = http.post("/v1/sources", json={"name": "bench"}).json()
        signer = Webhook(source["secret"])

        def plain(i: int) -> None:
            event = {
                "event_id": uuid.uuid4().hex,
                "timestamp": "2025-10-10T09:00:00Z",
                "content": f"Plain note {i}: the weekly sync moves to Thursday.",
            }
            http.post("/ingest", json={"user_id": f"p{i % 20}", "events": [event]})

        def signed(i: int) -> None:
            event = {
                "timestamp": "2025-10-10T09:00:00Z",
                "content": f"Signed note {i}: the weekly sync moves to Thursday.",
            }
            raw = json.dumps({"user_id": f"s{i % 20}", "events": [event]})
            msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
            http.post(
                f"/webhooks/{source['source_id']}",
                content=raw,
                headers={
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(msg_id, now, raw),
                    "content-type": "application/json",
                },
            )

        rates: dict[str, list[float]] = {"plain": [], "signed": []}
        lat: dict[str, list[float]] = {"plain": [], "signed": []}
        for _ in range(args.rounds):
            for name, send in (("plain", plain), ("signed", signed)):
                rate, latencies = burst(send, args.requests)
                rates[name].append(rate)
                lat[name] += latencies

        # The messages above are thousands of one-event jobs: let them be indexed first, so
        # that what follows measures deliveries, not a worker busy indexing.
        settle(engine)

        # Outbound: one endpoint, a backlog of job.succeeded events from duplicate-only
        # jobs (they end as they are accepted), drained by the webhooks queue.
        endpoint = http.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "events": ["job.succeeded"]}
        ).json()
        receiver.secret = endpoint["secret"]
        dup = {"event_id": "dup", "timestamp": "2025-10-10T09:00:00Z", "content": "same"}
        http.post("/ingest", json={"user_id": "dup", "events": [dup]})
        time.sleep(2)
        first_wave = len(receiver.arrived)
        for _ in range(args.backlog):
            http.post("/ingest", json={"user_id": "dup", "events": [dup]})
        expected = first_wave + args.backlog
        deadline = time.monotonic() + 600
        while len(receiver.arrived) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        with receiver.lock:
            times = sorted(receiver.arrived.values())[first_wave:]
        out_rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")

        # End to end: one indexing job at a time, its end to its event's arrival.
        delays = []
        for i in range(args.latency_jobs):
            event = {
                "event_id": f"lat{i}",
                "timestamp": "2025-10-10T09:00:00Z",
                "content": f"Latency probe {i}.",
            }
            job_id = http.post("/ingest", json={"user_id": "lat", "events": [event]}).json()[
                "job_id"
            ]
            deadline = time.monotonic() + 60
            while job_id not in receiver.arrived and time.monotonic() < deadline:
                time.sleep(0.005)
            with engine.connect() as conn:
                finished = conn.execute(
                    text("SELECT extract(epoch FROM finished_at) FROM jobs WHERE id = :id"),
                    {"id": job_id},
                ).scalar_one()
            if job_id in receiver.arrived:
                delays.append((receiver.arrived[job_id] - float(finished)) * 1000)
    finally:
        http.close()
        running.stop()
        engine.dispose()

    median = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\nwebhooks benchmark ({args.rounds} rounds of {args.requests} requests per kind)")
    print(f"  {SENDERS} concurrent senders, one event per request; medians of the rounds")
    for name, label in (("plain", "POST /ingest"), ("signed", "POST /webhooks/{source}")):
        print(
            f"  {label:28} {median[name]:7.0f} req/s   p50 {pct(lat[name], 50):6.1f} ms   "
            f"p99 {pct(lat[name], 99):6.1f} ms   (rounds: "
            + ", ".join(f"{r:.0f}" for r in rates[name])
            + ")"
        )
    print(f"  signed / plain                {median['signed'] / median['plain']:.2f}")
    print(f"  outbound deliveries           {out_rate:7.0f} per s  ({len(times)} delivered)")
    print(
        f"  job end → job.succeeded       p50 {pct(delays, 50):6.1f} ms   "
        f"p99 {pct(delays, 99):6.1f} ms   ({len(delays)} jobs)"
    )
    print(f"  deliveries that failed to verify at the receiver: {receiver.failed}")


if __name__ == "__main__":
    main()

"""`make bench-summary`: how fast a stored summary is served, how soon new data shows, and
how many refreshes a burst of ingestion costs.

Starts the whole system (`persona run`, embedded default) in a scratch folder with a
short quiet period, gives a synthetic user a profile, their own facts and a year of
realistic chatter, then measures through HTTP:

- cold `/summary` (computed by a worker) and cached `/summary` (served by the gateway
  from Redis) latencies, p50 and p99;
- from the last ingest accepted (HTTP 202) to a `/summary` that includes it, and to
  the precomputed refresh being stored (quiet period included);
- the number of refreshes a burst of 1,000 one-event jobs triggers.

Prints figures and three example summaries; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench import corpus, system
from pipeline.summaries import purposes

TRAITS = {
    "name": "Rae Okafor",
    "role": "head of design",
    "company": "Lumen Health",
    "timezone": "Europe/London",
    "locale": "en-GB",
    "github_handle": "raeok",
    "notes": "Runs a distributed team of nine; dislikes long meetings",
}
FACTS = [
    "I keep Wednesdays meeting-free for design critique prep and deep work.",
    "Please send me the agenda the day before; I skip meetings that have none.",
    "Design reviews are async in Figma comments first, live only if we disagree.",
    "We chose the cheaper research panel after comparing two pilot studies.",
    "I sign off on a new pattern only after testing it with five real patients.",
    "I prefer tea to coffee, Earl Grey with no milk.",
    "I'm allergic to peanuts, so please check restaurant menus.",
    "I always book aisle seats on trains so I can get up and stretch.",
    "Team retro moves to Thursday at 4 PM London time from next week.",
    "Flying to Lagos on December 12 to see family, back on January 3.",
    "Dentist on Monday at 9 AM, so no calls before 11.",
    "Short Slack messages are best; use email only for decisions that need a record.",
    "I reply to email once a day, usually after 5 PM.",
    "I studied industrial design in Eindhoven before moving to London.",
    "On weekends I restore old film cameras and shoot on 35mm.",
]
PURPOSES = list(purposes.REGISTRY)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ingest(http: httpx.Client, user_id: str, events: list[dict]) -> str:
    answer = http.post("/ingest", json={"user_id": user_id, "source": "bench", "events": events})
    answer.raise_for_status()
    return answer.json()["job_id"]


def fact_events(facts: list[str], prefix: str) -> list[dict]:
    now = datetime.now(UTC)
    return [
        {
            "event_id": f"{prefix}_{i}",
            "type": "message",
            "timestamp": (now - timedelta(days=len(facts) - i)).isoformat(),
            "content": fact,
        }
        for i, fact in enumerate(facts)
    ]


def until(check, timeout_s: float = 120.0) -> float:
    """Poll `check` every 50 ms; the time.time() it first held (NaN if it never did)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(0.05)
    return float("nan")


def timed_get(http: httpx.Client, params: dict) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    answer = http.get("/summary", params=params)
    elapsed = time.perf_counter() - t0
    answer.raise_for_status()
    return elapsed, answer


def refreshes(engine, user_id: str) -> tuple[int, datetime | None]:
    """Refreshes counted on the user's summaries, and when the last one was computed."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT coalesce(sum(s.refreshes), 0), max(s.computed_at) FROM summaries s "
                "JOIN users u ON u.id = s.user_pk WHERE u.user_id = :u AND s.refreshes > 0"
            ),
            {"u": user_id},
        ).one()
    return int(row[0]), row[1]


def run(args: argparse.Namespace) -> None:
    quiet = args.quiet
    running = system.start({"PERSONA_SUMMARIES_QUIET_S": str(quiet)})
    try:
        urls = json.loads((Path(running.log).parent / "run.json").read_text())
        engine = create_engine(urls["database_url"])
        headers = {"Authorization": f"x-api-key: {running.key}"}
        with httpx.Client(base_url=running.url, headers=headers, timeout=120) as http:
            user = "bench_rae"
            http.put("/register", json={"user_id": user, "traits": TRAITS}).raise_for_status()
            noise = corpus.events(args.events)
            jobs = [ingest(http, user, noise[i : i + 1000]) for i in range(0, len(noise), 1000)]
            jobs.append(ingest(http, user, fact_events(FACTS, "fact")))
            system.wait_jobs(http, jobs, poll_s=0.1)
            time.sleep(quiet + 1)  # let the settle refresh of this first data pass

            cold = [timed_get(http, {"user_id": user, "purpose": p})[0] for p in PURPOSES]
            examples = {
                p: timed_get(http, {"user_id": user, "purpose": p, "max_chars": 600})[1].json()
                for p in ("work-style", "preferences", "schedule-context")
            }
            params = {"user_id": user, "purpose": "general"}
            for _ in range(20):  # warm the connection and the gateway
                timed_get(http, params)
            cached = [timed_get(http, params)[0] for _ in range(args.requests)]

            with ThreadPoolExecutor(args.clients) as pool:
                t0 = time.perf_counter()
                parallel = list(
                    pool.map(lambda _: timed_get(http, params)[0], range(args.requests))
                )
                parallel_s = time.perf_counter() - t0

            # New data: how soon is it in a served summary, and in the precomputed one?
            focus = {"user_id": user, "purpose": "offsite plans", "max_chars": 5000}
            timed_get(http, focus)  # asked before: cached, and refreshed from now on
            before = refreshes(engine, user)[0]
            new_fact = "I just moved the design team offsite to Lisbon in March."
            accepted = time.time()
            ingest(http, user, fact_events([new_fact], "late"))
            served_s = until(lambda: new_fact in timed_get(http, focus)[1].json()["summary"])
            until(lambda: refreshes(engine, user)[0] > before)
            refreshed_at = refreshes(engine, user)[1]
            refreshed_s = refreshed_at.timestamp() - accepted if refreshed_at else float("nan")
            served_s -= accepted

            # A burst of 1,000 one-event jobs for one user.
            burst_user = "bench_burst"
            http.put("/register", json={"user_id": burst_user, "traits": TRAITS}).raise_for_status()
            bodies = [
                fact_events([f"Burst note {i}: {e['content']}"], f"burst_{i}")
                for i, e in enumerate(corpus.events(args.burst, seed=11))
            ]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                burst_jobs = list(pool.map(lambda b: ingest(http, burst_user, b), bodies))
            burst_accepted = time.time()
            accept_s = time.perf_counter() - t0
            system.wait_jobs(http, burst_jobs, poll_s=0.1)
            indexed_s = time.perf_counter() - t0
            until(lambda: refreshes(engine, burst_user)[0] > 0)
            time.sleep(3 * quiet)  # any further refresh would have come by now
            burst_refreshes, burst_at = refreshes(engine, burst_user)
            burst_lag = burst_at.timestamp() - burst_accepted if burst_at else float("nan")
        engine.dispose()
    finally:
        running.stop()

    ms = 1000
    print(
        f"\nsummary benchmark: {args.events} chatter events + {len(FACTS)} facts, quiet {quiet} s"
    )
    print(
        f"  cold /summary (worker)        p50 {statistics.median(cold) * ms:7.1f} ms   "
        f"p99 {percentile(cold, 0.99) * ms:7.1f} ms   ({len(cold)} purposes)"
    )
    print(
        f"  cached /summary, 1 client     p50 {statistics.median(cached) * ms:7.1f} ms   "
        f"p99 {percentile(cached, 0.99) * ms:7.1f} ms   ({len(cached)} requests)"
    )
    print(
        f"  cached /summary, {args.clients} clients    "
        f"p50 {statistics.median(parallel) * ms:7.1f} ms   "
        f"p99 {percentile(parallel, 0.99) * ms:7.1f} ms   "
        f"({args.requests / parallel_s:.0f} requests/s)"
    )
    print(f"  last ingest accepted → served summary includes it   {served_s:6.2f} s")
    print(f"  last ingest accepted → precomputed refresh stored   {refreshed_s:6.2f} s")
    print(
        f"  burst: {args.burst} one-event jobs accepted in {accept_s:.1f} s, indexed in "
        f"{indexed_s:.1f} s → {burst_refreshes} refresh(es), stored {burst_lag:.1f} s after "
        f"the last was accepted"
    )
    print("\nexample summaries (max_chars=600):")
    for purpose, body in examples.items():
        print(f"\n[{purpose}] {body['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="chatter events of the user")
    parser.add_argument("--requests", type=int, default=1000, help="cached requests timed")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--burst", type=int, default=1000, help="one-event jobs in the burst")
    parser.add_argument("--quiet", type=float, default=2.0, help="PERSONA_SUMMARIES_QUIET_S")
    run(parser.parse_args())


if __name__ == "__main__":
    main()

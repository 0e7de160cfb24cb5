"""`make bench-query`: POST /chunks latency through HTTP against its floor, by store size.

For each size (chunks spread over 1,000 users) the store is filled directly
(bench.store: COPY into Postgres, perturbed real embeddings into the embedded
Qdrant Edge index), then, in this order, on that same store:

1. the floor, in this process: the query's embedding (the worker's own
   single-threaded query model) plus the raw index search of the user's points;
2. the whole pipeline call, in this process (`pipeline.retrieval.search.search_chunks`),
   with the time it spends embedding, in the index and in SQL (lexical
   statements apart) recorded as it runs (SQL runs on a reader thread beside
   the model, so these parts overlap);
3. the system: `persona run` on that data folder (gateway → the worker's direct
   read path, `workers.reads`), POST /chunks through HTTP with 1 client and with
   8 concurrent clients, after a warm-up; and beside it the bare Celery RPC hop
   (a ping task through the gateway's own `dispatch.call`, the path reads took
   before) and the bare HTTP hop (GET /healthz), so the difference can be placed.

Prints p50/p95/p99 and throughput per setting and where the time goes. Asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine, event

from api_gateway.dispatch import call, create_producer
from bench import corpus, store, system
from bench.load import post_all
from pipeline.config import Settings, get_settings
from pipeline.db.engine import session_scope
from pipeline.db.migrate import upgrade
from pipeline.embedding import Embedder
from pipeline.generations import Generation
from pipeline.local.embedded import EmbeddedStack
from pipeline.messages import Ping, Task
from pipeline.models import ModelSpec
from pipeline.retrieval.search import search_chunks
from pipeline.runtime import Runtime
from pipeline.schemas import ChunksRequest
from pipeline.vectors import SearchFilter, tenant_key

USERS = 1000
QUESTIONS = [
    "when is the {t} sync with {p}?",
    "what did {p} say about the {t}?",
    "where am I meeting {p}?",
    "notes on the {t} to send before {d}",
    "who owns the {t} draft?",
    "is {p} out sick, does the {t} meeting move?",
    "coffee at {l} around {h}",
    "latest numbers for the {t}",
    "{p} {t} {d}",
]


def questions(n: int, n_users: int, seed: int) -> list[dict[str, Any]]:
    """`n` POST /chunks bodies: a templated question for a random user (top_k default), no
    question asked twice, so the worker's cache of query vectors never answers one and
    every read pays for its embedding."""
    rng = random.Random(seed)
    asked: set[str] = set()
    bodies = []
    for _ in range(100 * n):
        query = corpus._fill(rng, rng.choice(QUESTIONS))
        if query not in asked:
            asked.add(query)
            bodies.append({"user_id": store.user_name(rng.randrange(n_users)), "query": query})
            if len(bodies) == n:
                return bodies
    raise ValueError(f"the question templates give fewer than {n} distinct questions")


@dataclass
class Series:
    """Latencies of one setting, in ms, and the wall time they took together."""

    name: str
    ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def pct(self, q: float) -> float:
        return float(np.percentile(self.ms, q)) if self.ms else float("nan")

    @property
    def per_s(self) -> float:
        return len(self.ms) / self.wall_s if self.wall_s else float("nan")


# --- in-process: the floor and the pipeline, with their parts timed ------------------------


EMBED, VECTORS = "embed query", "vector index"
POSTGRES = "Postgres sessions (conn. held)"
SQL_LEXICAL, SQL_OTHER = "  of which lexical statements", "  of which other statements"
REST = "rest (Python, pre-ping; beyond the longer side)"
HEALTHZ = "HTTP hop alone (GET /healthz)"
FLOOR_EMBED, FLOOR_SEARCH = "floor: embed query", "floor: index search, top 5"
FLOOR_SEARCH_50 = "floor: index search, top 50"


class Spent:
    """Milliseconds spent per part during the current call (its threads summed)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, part: str, seconds: float) -> None:
        with self._lock:
            self.parts[part] += seconds * 1000


class TimedIndex:
    """The index, with the time of every method call the pipeline makes recorded."""

    def __init__(self, index: Any, spent: Spent) -> None:
        self._index = index
        self._spent = spent

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._index, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._spent.add(VECTORS, time.perf_counter() - t0)

        return timed


class TimedRuntime(Runtime):
    """The worker's `Runtime`, recording the query embedding's time and, once `timed`, the
    index's calls."""

    spent: Spent
    timed: bool = False

    def embed_query(self, text: str, model: ModelSpec) -> Any:
        t0 = time.perf_counter()
        try:
            return super().embed_query(text, model)
        finally:
            self.spent.add(EMBED, time.perf_counter() - t0)

    def index(self, generation: Generation) -> Any:
        found = super().index(generation)
        return TimedIndex(found, self.spent) if self.timed else found


def time_sql(engine: Engine, spent: Spent) -> None:
    """Record how long connections are held (a session's SQL, ORM work and commit) and
    each statement's execution, full-text (lexical) statements apart."""
    starts: dict[int, float] = {}
    held: dict[int, float] = {}

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        held[id(record)] = time.perf_counter()

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        if (t0 := held.pop(id(record), None)) is not None:
            spent.add(POSTGRES, time.perf_counter() - t0)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        starts[id(cursor)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        lexical = "to_tsvector" in statement
        part = SQL_LEXICAL if lexical else SQL_OTHER
        spent.add(part, time.perf_counter() - starts.pop(id(cursor), time.perf_counter()))


def measure_in_process(
    runtime: TimedRuntime,
    generation: Generation,
    org_id: int,
    user_pks: dict[str, int],
    bodies: list[dict[str, Any]],
) -> tuple[dict[str, Series], dict[str, list[float]]]:
    """Per query, the floor then the pipeline call, interleaved so both see the same host.

    The floor is the query's embedding plus the raw index search of the user's points
    (top 5 as asked, and top 50 as the fusion fetches); the pipeline call is
    `search_chunks` exactly as the worker runs it, with its parts recorded.
    """
    floor, pipeline = Series("floor"), Series("pipeline")
    parts: dict[str, list[float]] = defaultdict(list)
    runtime.timed = False
    index = runtime.index(generation)
    runtime.timed = True
    for body in bodies:
        flt = SearchFilter(tenant=tenant_key(org_id, user_pks[body["user_id"]]))
        t0 = time.perf_counter()
        vector = runtime.query_embedder(generation.model).embed([body["query"]])[0]  # no cache
        t1 = time.perf_counter()
        index.search(vector, flt, limit=5)
        t2 = time.perf_counter()
        index.search(vector, flt, limit=50)
        t3 = time.perf_counter()
        floor.ms.append((t2 - t0) * 1000)
        parts[FLOOR_EMBED].append((t1 - t0) * 1000)
        parts[FLOOR_SEARCH].append((t2 - t1) * 1000)
        parts[FLOOR_SEARCH_50].append((t3 - t2) * 1000)

        runtime.spent.parts.clear()
        t0 = time.perf_counter()
        search_chunks(runtime, org_id, ChunksRequest.model_validate(body))
        total = (time.perf_counter() - t0) * 1000
        pipeline.ms.append(total)
        named = dict(runtime.spent.parts)
        for part in (EMBED, VECTORS, POSTGRES, SQL_LEXICAL, SQL_OTHER):
            parts[part].append(named.get(part, 0.0))
        # Postgres (user, lexical) runs on a reader thread beside the model and the index.
        model_side = named.get(EMBED, 0.0) + named.get(VECTORS, 0.0)
        parts[REST].append(total - max(model_side, named.get(POSTGRES, 0.0)))
    return {"floor": floor, "pipeline": pipeline}, parts


# --- through the system --------------------------------------------------------------------


def http_series(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]], clients: int
) -> Series:
    """POST /chunks for every body over `clients` keep-alive connections, each sending its
    next request once the last is answered (`bench.load`: the bench's httpx clients on
    threads had taken 1.7-2.7 ms of the two cores per request from the system they
    measured, and added their own to every latency)."""
    series = Series(f"{clients} client{'s' if clients > 1 else ''}")
    t0 = time.perf_counter()
    answers, refused = post_all(url, "/chunks", bodies, headers, clients)
    series.wall_s = time.perf_counter() - t0
    for answer in answers:
        if answer.status != 200:
            raise RuntimeError(f"/chunks answered {answer.status}: {answer.body[:500]!r}")
        series.ms.append(answer.took_s * 1000)
    if refused:
        raise RuntimeError(f"/chunks refused {refused} times (429/503): nothing to measure")
    return series


def repeat(name: str, n: int, action: Callable[[], object]) -> Series:
    series = Series(name)
    t0 = time.perf_counter()
    for _ in range(n):
        t1 = time.perf_counter()
        action()
        series.ms.append((time.perf_counter() - t1) * 1000)
    series.wall_s = time.perf_counter() - t0
    return series


def wait_for_worker(url: str, headers: dict[str, str], body: dict[str, Any]) -> float:
    """Seconds until the first /chunks answers 200 (the worker opens the index at start)."""
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        while True:
            response = http.post("/chunks", json=body)
            if response.status_code == 200:
                return time.perf_counter() - t0
            if response.status_code != 503 or time.perf_counter() - t0 > 300:
                raise RuntimeError(f"/chunks answered {response.status_code}: {response.text}")


# --- one size ------------------------------------------------------------------------------


class CpuMeter:
    """CPU time each process spends per request during a series, its idle burn removed.

    The processes share two cores, so CPU per request is what bounds throughput and,
    for one client, what the serial path of a request costs.
    """

    def __init__(self, running: system.RunningSystem, idle_s: float = 3.0) -> None:
        self.running = running
        a = self._snapshot()
        time.sleep(idle_s)
        b = self._snapshot()
        self.idle_per_s = {k: (b[k] - a[k]) / idle_s for k in a}
        self.idle_per_s["bench client"] = 0.0

    def _snapshot(self) -> dict[str, float]:
        snap = {k: v for k, v in self.running.cpu_s().items() if k != "beat"}
        snap["bench client"] = time.process_time()
        return snap

    def measure(self, run: Callable[[], Series]) -> tuple[Series, dict[str, float]]:
        a = self._snapshot()
        series = run()
        b = self._snapshot()
        n = max(1, len(series.ms))
        burn = {k: self.idle_per_s[k] * series.wall_s for k in a}
        return series, {k: max(0.0, b[k] - a[k] - burn[k]) * 1000 / n for k in a}


@dataclass
class SizeResult:
    chunks: int
    fill: store.FillReport
    series: dict[str, Series]
    parts: dict[str, list[float]]
    memory_mb: dict[str, float]
    disk_mb: dict[str, float]
    worker_ready_s: float
    cpu_ms: dict[str, dict[str, float]]
    load: float


@contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="persona-bench-query-"))
    try:
        yield path
    finally:
        if keep:
            print(f"  (kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def run_size(size: int, base: store.Base, args: argparse.Namespace) -> SizeResult:
    bodies = questions(args.warmup + args.queries + args.queries_concurrent, USERS, seed=size)
    warm, measured = bodies[: args.warmup], bodies[args.warmup : args.warmup + args.queries]
    concurrent = bodies[args.warmup + args.queries :]
    with scratch(args.keep) as data, EmbeddedStack(data) as stack:
        upgrade(stack.database_url)
        settings = Settings(
            data_dir=data,
            database={"url": stack.database_url},  # type: ignore[arg-type]
            redis={"url": stack.redis_url},  # type: ignore[arg-type]
        )
        runtime = TimedRuntime(settings)
        runtime.spent = Spent()
        org_id, pks = store.make_users(runtime.engine, settings.default_org, USERS)
        user_pks = {store.user_name(i): pk for i, pk in enumerate(pks)}
        print(f"\n[{size:,} chunks] filling…", flush=True)
        with session_scope(runtime.engine) as session:
            generation = runtime.active(session)
        report = store.fill(runtime.engine, runtime.target(generation), base, org_id, pks, size)
        print(
            f"  filled {report.chunks:,} chunks ({report.items:,} items) in "
            f"{report.total_s:.0f} s: generate {report.generate_s:.0f}, Postgres COPY "
            f"{report.postgres_s:.0f}, index upsert {report.index_s:.0f}, "
            f"VACUUM ANALYZE {report.analyze_s:.0f}",
            flush=True,
        )
        runtime.warm_up()
        time_sql(runtime.engine, runtime.spent)
        measure_in_process(runtime, generation, org_id, user_pks, warm)
        local, parts = measure_in_process(runtime, generation, org_id, user_pks, measured)
        floor, pipeline = local["floor"], local["pipeline"]
        runtime.timed = False
        runtime.index(generation).close()  # hand the folder to the worker
        runtime.engine.dispose()
        bench_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print("  measuring through the system…", flush=True)
        env = {
            "PERSONA_DATABASE_URL": stack.database_url,
            "PERSONA_REDIS_URL": stack.redis_url,
            "PERSONA_LOG_LEVEL": "WARNING",
        }
        running = system.start(env, data_dir=data)
        headers = {"Authorization": f"x-api-key: {running.key}"}
        try:
            ready_s = wait_for_worker(running.url, headers, warm[0])
            for clients in (1, 8):
                http_series(running.url, headers, warm, clients)
            running.pids.update(postgres=stack.postgres.pid or 0, redis=stack.redis.pid or 0)
            meter = CpuMeter(running)
            load = os.getloadavg()[0]
            one, cpu_one = meter.measure(lambda: http_series(running.url, headers, measured, 1))
            eight, cpu_eight = meter.measure(
                lambda: http_series(running.url, headers, concurrent, 8)
            )
            producer = create_producer(settings)

            def ping() -> None:
                call(producer, Task.HEALTH_PING, Ping(), 10)

            repeat("rpc", args.warmup, ping)
            rpc, cpu_rpc = meter.measure(lambda: repeat("rpc", args.queries, ping))
            producer.close()
            with httpx.Client(base_url=running.url) as http:

                def healthz_once() -> None:
                    http.get("/healthz").raise_for_status()

                repeat("healthz", args.warmup, healthz_once)
                healthz, cpu_healthz = meter.measure(
                    lambda: repeat("healthz", args.queries, healthz_once)
                )
            load = max(load, os.getloadavg()[0])
            memory = running.peak_rss_mb()
        finally:
            running.stop()
        memory["bench process"] = bench_peak
        disk = {name: _du_mb(data / name) for name in ("postgres", "qdrant")}
    series = {
        "floor: embed + index search": floor,
        "pipeline call, in process": pipeline,
        "POST /chunks, 1 client": one,
        "POST /chunks, 8 clients": eight,
        "RPC hop alone (ping task)": rpc,
        HEALTHZ: healthz,
    }
    cpu = {
        "POST /chunks, 1 client": cpu_one,
        "POST /chunks, 8 clients": cpu_eight,
        "RPC hop alone (ping task)": cpu_rpc,
        HEALTHZ: cpu_healthz,
    }
    return SizeResult(size, report, series, parts, memory, disk, ready_s, cpu, load)


def _du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=False)
    return float(out.stdout.split()[0]) if out.stdout else 0.0


# --- report --------------------------------------------------------------------------------


def print_report(results: list[SizeResult], args: argparse.Namespace) -> None:
    print(
        f"\nPOST /chunks latency (top_k default 5, {USERS:,} users, embedded default: "
        f"qdrant-edge in the worker); {args.queries} queries per setting "
        f"({args.queries_concurrent} with 8 clients) after {args.warmup} warm-up; ms"
    )
    print(f"  {'chunks':>9}  {'setting':<32}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>9}")
    for r in results:
        for name, s in r.series.items():
            print(
                f"  {r.chunks:>9,}  {name:<32}{s.pct(50):8.2f}{s.pct(95):8.2f}"
                f"{s.pct(99):8.2f}{s.per_s:9.0f}"
            )
    print("\nwhere the time goes (medians, ms): pipeline parts measured in process; Postgres")
    print("(user, lexical) runs beside embed + index, so the parts overlap;")
    print("gateway + queue = HTTP 1-client p50 - pipeline p50 (RPC and HTTP hops alone beside)")
    names = list(results[0].parts)
    print(f"  {'part':<34}" + "".join(f"{r.chunks:>11,}" for r in results))
    for name in names:
        print(
            f"  {name:<34}" + "".join(f"{statistics.median(r.parts[name]):11.2f}" for r in results)
        )
    rows: list[tuple[str, Callable[[SizeResult], float]]] = [
        ("pipeline call (p50)", lambda r: r.series["pipeline call, in process"].pct(50)),
        (
            "gateway + queue (difference)",
            lambda r: (
                r.series["POST /chunks, 1 client"].pct(50)
                - r.series["pipeline call, in process"].pct(50)
            ),
        ),
        ("  RPC hop alone (ping)", lambda r: r.series["RPC hop alone (ping task)"].pct(50)),
        ("  HTTP hop alone (/healthz)", lambda r: r.series[HEALTHZ].pct(50)),
        ("POST /chunks, 1 client (p50)", lambda r: r.series["POST /chunks, 1 client"].pct(50)),
    ]
    for label, value in rows:
        print(f"  {label:<34}" + "".join(f"{value(r):11.2f}" for r in results))
    cores = os.cpu_count()
    print(f"\nCPU ms per request, by process ({cores} cores shared by all of them and the host)")
    procs = list(next(iter(results[0].cpu_ms.values())))
    print(f"  {'chunks':>9}  {'setting':<32}" + "".join(f"{p:>14}" for p in procs) + "     total")
    for r in results:
        for setting, by_process in r.cpu_ms.items():
            cells = "".join(f"{by_process[p]:14.2f}" for p in procs)
            total = sum(by_process.values())
            print(f"  {r.chunks:>9,}  {setting:<32}{cells}{total:10.2f}")
    print("\nfill and footprint")
    for r in results:
        f = r.fill
        mem = ", ".join(f"{k} {v:.0f}" for k, v in r.memory_mb.items())
        print(
            f"  {r.chunks:>9,} chunks, {f.items:,} items: fill {f.total_s:.0f} s "
            f"(generate {f.generate_s:.0f}, COPY {f.postgres_s:.0f}, upsert {f.index_s:.0f}, "
            f"vacuum {f.analyze_s:.0f}); disk MB postgres {r.disk_mb['postgres']:.0f}, "
            f"qdrant {r.disk_mb['qdrant']:.0f}; peak RSS MB {mem}; "
            f"worker answered {r.worker_ready_s:.1f} s after the gateway; "
            f"host load average during the HTTP runs {r.load:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="chunks, comma-separated")
    parser.add_argument("--queries", type=int, default=300, help="measured queries, 1 client")
    parser.add_argument("--queries-concurrent", type=int, default=400, help="with 8 clients")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--base-events", type=int, default=3000, help="real embeddings to copy")
    parser.add_argument("--base-paragraphs", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep each size's data folder")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    settings = get_settings()
    embedder = Embedder.all_cores(settings.embedding)
    base, embed_s = store.embed_base(
        store.base_texts(args.base_events, args.base_paragraphs), embedder
    )
    del embedder
    n_base = len(base.event_texts) + len(base.doc_texts)
    how = f"in {embed_s:.0f} s" if embed_s else "cached in var/bench"
    print(f"base: {n_base:,} real embeddings ({how}); chunks are perturbed copies")
    results = [run_size(size, base, args) for size in sizes]
    print_report(results, args)


if __name__ == "__main__":
    main()

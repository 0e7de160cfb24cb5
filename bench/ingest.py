"""`make bench-ingest`: events/s accepted and made searchable, against the model's ceiling.

Starts the whole system (`persona run`, embedded default) in a scratch folder,
sends N realistic events and a few long documents through HTTP, waits until
every job has succeeded, then stops it and measures the ceiling: fastembed
alone embedding exactly the texts the workers embedded, in this process, with
nothing else running. Prints medians where runs repeat, and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench import corpus, system
from pipeline.chunking import Chunker, Source
from pipeline.config import get_settings
from pipeline.embedding import Embedder
from pipeline.schemas import IngestRequest


def requests_for(n_events: int, n_docs: int, batch: int) -> list[dict]:
    events = corpus.events(n_events)
    bodies = [
        {
            "user_id": f"bench_user_{i // batch % 10}",
            "source": "bench",
            "events": events[i : i + batch],
        }
        for i in range(0, len(events), batch)
    ]
    docs = corpus.documents(n_docs)
    bodies += [
        {"user_id": "bench_user_docs", "source": "drive", "documents": docs[i : i + 5]}
        for i in range(0, len(docs), 5)
    ]
    return bodies


def embed_texts(bodies: list[dict], embedder: Embedder) -> list[str]:
    """The texts the workers embed for these requests: chunked with their headers."""
    chunker = Chunker(embedder.tokenizer, embedder.max_tokens)
    sources: list[Source] = []
    for body in bodies:
        request = IngestRequest.model_validate(body)
        for e in request.events:
            sources.append(Source("event", request.source, e.type, None, e.timestamp, e.content))
        for d in request.documents:
            sources.append(
                Source("document", request.source, d.type, d.title, d.timestamp, d.content)
            )
    texts = {p.embed_text for pieces in chunker.split_many(sources) for p in pieces}
    return sorted(texts, key=chunker.count)


class Reader:
    """An agent reading while the import runs: POST /chunks `per_s` times a second for a
    user indexed beforehand, its latencies kept (what a turn waits during a bulk import)."""

    def __init__(self, http: httpx.Client, per_s: float) -> None:
        self.http, self.per_s = http, per_s
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def prepare(self) -> None:
        accepted = self.http.post(
            "/ingest", json={"user_id": "reader", "source": "bench", "events": corpus.events(200)}
        ).json()
        system.wait_jobs(self.http, [accepted["job_id"]])

    def _run(self) -> None:
        while not self._stop.wait(1 / self.per_s):
            t0 = time.perf_counter()
            query = f"flight to berlin {len(self.latencies)}"
            self.http.post("/chunks", json={"user_id": "reader", "query": query})
            self.latencies.append(time.perf_counter() - t0)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_end_to_end(
    bodies: list[dict], clients: int, env: dict[str, str], reads_per_s: float = 0
) -> dict[str, float]:
    running = system.start(env)
    headers = {"Authorization": f"x-api-key: {running.key}"}
    items = sum(len(b.get("events", [])) + len(b.get("documents", [])) for b in bodies)
    reads: list[float] = []
    try:
        with httpx.Client(base_url=running.url, headers=headers, timeout=120) as http:
            reader = Reader(http, reads_per_s) if reads_per_s else None
            if reader:
                reader.prepare()
            cpu0 = running.cpu_s()
            t0 = time.perf_counter()

            def send(body: dict) -> str:
                response = http.post("/ingest", json=body)
                response.raise_for_status()
                return response.json()["job_id"]

            with reader or contextlib.nullcontext():
                with ThreadPoolExecutor(clients) as pool:
                    job_ids = list(pool.map(send, bodies))
                accepted_s = time.perf_counter() - t0
                stages: dict[str, float] = {}
                for job in system.wait_jobs(http, job_ids):
                    for stage, ms in job["timings"].items():
                        stages[stage] = stages.get(stage, 0.0) + ms / 1000
                searchable_s = time.perf_counter() - t0
            reads = reader.latencies if reader else []
            cpu = {k: v - cpu0.get(k, 0.0) for k, v in running.cpu_s().items()}
        memory = running.peak_rss_mb()
    finally:
        running.stop()
    return {
        "items": items,
        "accepted_per_s": items / accepted_s,
        "searchable_per_s": items / searchable_s,
        "searchable_s": searchable_s,
        **{f"stage_s_{k}": v for k, v in stages.items()},
        **{f"peak_mb_{k}": v for k, v in memory.items()},
        **{f"cpu_s_{k}": v for k, v in cpu.items()},
        **(
            {
                "reads": len(reads),
                "read_p50_ms": 1000 * statistics.median(reads),
                "read_max_ms": 1000 * max(reads),
            }
            if reads
            else {}
        ),
    }


def run_ceiling(bodies: list[dict], repeats: int) -> dict[str, float]:
    settings = get_settings()
    embedder = Embedder.all_cores(settings.embedding)
    texts = embed_texts(bodies, embedder)
    items = sum(len(b.get("events", [])) + len(b.get("documents", [])) for b in bodies)
    seconds, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        embedder.embed(texts)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    median = statistics.median(seconds)
    return {
        "texts": len(texts),
        "ceiling_items_per_s": items / median,
        "ceiling_s": median,
        "ceiling_cpu_s": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1000, help="events per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--concurrency", type=int, help="worker task threads")
    parser.add_argument("--threads", type=int, help="onnxruntime threads of the worker")
    parser.add_argument("--parallel", type=int, help="jobs that may embed at once")
    parser.add_argument(
        "--reads-per-s",
        type=float,
        default=0,
        help="also POST /chunks this often during the import and report its latency "
        "(the reads take CPU from the import: leave at 0 for the ratio)",
    )
    args = parser.parse_args()
    env = {}
    if args.concurrency:
        env["PERSONA_CELERY_WORKER_CONCURRENCY"] = str(args.concurrency)
    if args.threads:
        env["PERSONA_EMBEDDING_THREADS"] = str(args.threads)
    if args.parallel:
        env["PERSONA_EMBEDDING_PARALLEL"] = str(args.parallel)
    bodies = requests_for(args.events, args.documents, args.batch)
    runs = [
        run_end_to_end(bodies, args.clients, env, args.reads_per_s) for _ in range(args.repeats)
    ]
    ceiling = run_ceiling(bodies, args.repeats)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(
        f"\ningest benchmark: {runs[0]['items']} items ({args.events} events, {args.documents} "
        f"documents), {ceiling['texts']} distinct texts embedded; medians of {args.repeats} runs"
    )
    print(f"  accepted (HTTP 202)          {med('accepted_per_s'):10.0f} items/s")
    print(
        f"  accepted → searchable        {med('searchable_per_s'):10.0f} items/s "
        f"({med('searchable_s'):.1f} s)"
    )
    print(
        f"  ceiling (fastembed alone)    {ceiling['ceiling_items_per_s']:10.0f} items/s "
        f"({ceiling['ceiling_s']:.1f} s)"
    )
    ratio = med("searchable_per_s") / ceiling["ceiling_items_per_s"]
    print(f"  ratio end-to-end / ceiling   {ratio:10.2f}")
    stages = ", ".join(
        f"{k[8:].removesuffix('_ms')} {med(k):.1f}" for k in runs[0] if k.startswith("stage_s_")
    )
    print(f"  worker time by stage, summed over jobs (s): {stages}")
    cpu_keys = sorted(k for k in runs[0] if k.startswith("cpu_s_"))
    total_cpu = sum(med(k) for k in cpu_keys)
    print(
        f"  CPU seconds while ingesting: {total_cpu:.1f} in all, the model alone needs "
        f"{ceiling['ceiling_cpu_s']:.1f} ({ceiling['ceiling_cpu_s'] / total_cpu:.0%})"
    )
    for key in cpu_keys:
        print(f"    {key[6:]:<27}{med(key):10.1f} s")
    for key in sorted(k for k in runs[0] if k.startswith("peak_mb_")):
        print(f"  peak memory {key[8:]:<17}{med(key):10.0f} MB")
    if "reads" in runs[0]:
        print(
            f"  POST /chunks during the import: {med('reads'):.0f} reads, "
            f"p50 {med('read_p50_ms'):.0f} ms, max {med('read_max_ms'):.0f} ms"
        )


if __name__ == "__main__":
    main()

"""`make eval`: how often /chunks finds the memory that answers, against two baselines.

Starts the whole system (`persona run`, embedded default) in a scratch folder,
registers the users of tests/data/eval (see tests/data/make_eval_dataset.py for how
it was made), ingests their events through HTTP POST /ingest, waits until every job
has succeeded, asks every question through POST /chunks with top_k=10, and stops it.
Whatever ranking /chunks has, this measures it from the outside.

Then, in this process and on the same data, two baselines rank the same chunk texts
(each under the header the system embeds, `pipeline.chunking.header`):
  dense: exact cosine with the project's own embedder (PERSONA_EMBEDDING_MODEL);
  bm25:  bm25s (Lucene BM25, English stopwords, Snowball stemmer).

For each kind of question it prints recall@5 and recall@10 (the share of the labeled
events found in the top 5 / 10 events, averaged over questions: a multi-hop question
needs both of its events for 1.0) and hit@10 (at least one labeled event in the top
10). Questions with no answer have no labeled event, so they are left out of those
figures and of `all`; for them it prints how well each method's top-1 score tells
them from answerable questions (AUROC: the chance that an answerable question's top
score beats a no-answer one's; 0.5 is a coin toss) with the median top-1 scores.
Deterministic: same data, same system, same figures. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import bm25s
import httpx
import numpy as np
import Stemmer

from bench import system
from pipeline.chunking import Chunker, Source
from pipeline.config import get_settings
from pipeline.embedding import Embedder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"
K = 10
BATCH = 1000  # events per /ingest request, the contract's bound
KINDS = ["single", "when", "multi", "preference"]


@dataclass(frozen=True)
class Ranking:
    """One method's answer to one question: distinct event ids, best first."""

    event_ids: list[str]
    top_score: float | None


def load() -> tuple[list[dict], list[dict], list[dict]]:
    memories = json.loads((DATA / "memories.json").read_text(encoding="utf-8"))
    questions = json.loads((DATA / "questions.json").read_text(encoding="utf-8"))
    return memories["users"], memories["events"], questions["questions"]


def distinct(event_ids: list[str | None]) -> list[str]:
    """Event ids in order of first appearance: an event split in chunks counts once."""
    out: list[str] = []
    for e in event_ids:
        if e is not None and e not in out:
            out.append(e)
    return out


# --- the system, through HTTP ------------------------------------------------


def _send(http: httpx.Client, method: str, url: str, body: dict | None = None) -> dict:
    """One request, waiting out 429 / 503 for as long as Retry-After says."""
    for _ in range(30):
        response = http.request(method, url, json=body)
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()
        return response.json()
    raise RuntimeError(f"{method} {url}: still refused after 30 tries")


def ingest(http: httpx.Client, users: list[dict], events: list[dict]) -> float:
    """Register, ingest in batches of at most BATCH per (user, source), wait for the jobs;
    returns the seconds from the first /ingest to the last job's success."""
    for user in users:
        _send(http, "PUT", "/register", {"user_id": user["user_id"], "traits": user["traits"]})
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for e in events:
        item = {k: e[k] for k in ("event_id", "type", "timestamp", "content")}
        groups[(e["user_id"], e["source"])].append(item)
    t0 = time.perf_counter()
    jobs = []
    for (user_id, source), items in groups.items():
        for i in range(0, len(items), BATCH):
            body = {"user_id": user_id, "source": source, "events": items[i : i + BATCH]}
            accepted = _send(http, "POST", "/ingest", body)
            if accepted["job_id"]:
                jobs.append(accepted["job_id"])
    system.wait_jobs(http, jobs)
    return time.perf_counter() - t0


def ask_system(http: httpx.Client, questions: list[dict]) -> tuple[list[Ranking], list[float]]:
    rankings, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        found = _send(
            http, "POST", "/chunks", {"user_id": q["user_id"], "query": q["question"], "top_k": K}
        )["chunks"]
        latencies.append(time.perf_counter() - t0)
        rankings.append(
            Ranking(distinct([c["event_id"] for c in found]), found[0]["score"] if found else None)
        )
    return rankings, latencies


def run_system(users: list[dict], events: list[dict], questions: list[dict]) -> dict:
    t0 = time.perf_counter()
    running = system.start()
    started_s = time.perf_counter() - t0
    headers = {"Authorization": f"x-api-key: {running.key}"}
    try:
        with httpx.Client(base_url=running.url, headers=headers, timeout=120) as http:
            ingest_s = ingest(http, users, events)
            rankings, latencies = ask_system(http, questions)
    finally:
        running.stop()
    return {
        "rankings": rankings,
        "started_s": started_s,
        "ingest_s": ingest_s,
        "latencies": latencies,
    }


# --- baselines, in this process ----------------------------------------------


def chunk_texts(events: list[dict], chunker: Chunker) -> dict[str, list[tuple[str, str]]]:
    """Per user, (event id, header + chunk) for every chunk: what the system embeds."""
    sources = [
        Source(
            "event",
            e["source"],
            e["type"],
            None,
            datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")),
            e["content"],
        )
        for e in events
    ]
    per_user: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e, pieces in zip(events, chunker.split_many(sources), strict=True):
        per_user[e["user_id"]] += [(e["event_id"], p.embed_text) for p in pieces]
    return per_user


def rank_by(scores: np.ndarray, ids: list[str]) -> Ranking:
    """Best first; equal scores keep corpus order, so the result is deterministic."""
    order = np.argsort(-scores, kind="stable")[: K * 2]
    return Ranking(distinct([ids[i] for i in order])[:K], float(scores[order[0]]))


def dense(
    corpus: dict[str, list[tuple[str, str]]], questions: list[dict], embedder: Embedder
) -> list[Ranking]:
    vectors = {u: embedder.embed([t for _, t in rows]) for u, rows in corpus.items()}
    queries = embedder.embed([q["question"] for q in questions])
    return [
        rank_by(vectors[q["user_id"]] @ v, [e for e, _ in corpus[q["user_id"]]])
        for q, v in zip(questions, queries, strict=True)
    ]


def bm25(corpus: dict[str, list[tuple[str, str]]], questions: list[dict]) -> list[Ranking]:
    stemmer = Stemmer.Stemmer("english")

    def tokens(texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(
            texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )

    indexes = {}
    for user, rows in corpus.items():
        index = bm25s.BM25()
        index.index(tokens([t for _, t in rows]), show_progress=False)
        indexes[user] = index
    out = []
    for q in questions:
        index, ids = indexes[q["user_id"]], [e for e, _ in corpus[q["user_id"]]]
        query = [t for t in tokens([q["question"]])[0] if t in index.vocab_dict]
        scores = index.get_scores(query) if query else np.zeros(len(ids))
        out.append(rank_by(np.asarray(scores, dtype=np.float64), ids))
    return out


# --- figures -----------------------------------------------------------------


def recall(ranking: Ranking, gold: list[str], k: int) -> float:
    return len(set(ranking.event_ids[:k]) & set(gold)) / len(gold)


def hit(ranking: Ranking, gold: list[str], k: int) -> float:
    return float(bool(set(ranking.event_ids[:k]) & set(gold)))


def table(questions: list[dict], methods: dict[str, list[Ranking]]) -> str:
    kinds = [k for k in KINDS if any(q["kind"] == k for q in questions)]
    head = f"{'kind':<11}{'n':>4}  " + "  ".join(
        f"{name + ' R@5':>11}{'R@10':>6}{'H@10':>6}" for name in methods
    )
    lines = [head, "-" * len(head)]
    for kind in [*kinds, "all"]:
        idx = [
            i
            for i, q in enumerate(questions)
            if q["event_ids"] and (kind == "all" or q["kind"] == kind)
        ]
        cells = []
        for rankings in methods.values():
            r5, r10, h10 = (
                statistics.fmean(f(rankings[i], questions[i]["event_ids"], k) for i in idx)
                for f, k in ((recall, 5), (recall, 10), (hit, 10))
            )
            cells.append(f"{r5:>11.3f}{r10:>6.3f}{h10:>6.3f}")
        lines.append(f"{kind:<11}{len(idx):>4}  " + "  ".join(cells))
    return "\n".join(lines)


def no_answer(questions: list[dict], methods: dict[str, list[Ranking]]) -> str:
    """Whether a method's top-1 score tells a question with no answer from one with."""
    lines = [
        f"no-answer questions ({sum(not q['event_ids'] for q in questions)}): top-1 score, "
        "median answerable / median no-answer, AUROC answerable > no-answer"
    ]
    for name, rankings in methods.items():
        scores = [r.top_score or 0.0 for r in rankings]
        yes = [s for s, q in zip(scores, questions, strict=True) if q["event_ids"]]
        no = [s for s, q in zip(scores, questions, strict=True) if not q["event_ids"]]
        if not no:
            continue
        pairs = sum((a > b) + 0.5 * (a == b) for a in yes for b in no)
        auroc = pairs / (len(yes) * len(no))
        lines.append(
            f"  {name:<8} {statistics.median(yes):8.3f} / {statistics.median(no):8.3f}"
            f"   AUROC {auroc:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="write every method's ranking per question")
    args = parser.parse_args()
    t0 = time.perf_counter()
    users, events, questions = load()
    ran = run_system(users, events, questions)

    settings = get_settings()
    embedder = Embedder.all_cores(settings.embedding)
    corpus = chunk_texts(events, Chunker(embedder.tokenizer, embedder.max_tokens))
    t1 = time.perf_counter()
    methods = {
        "system": ran["rankings"],
        "dense": dense(corpus, questions, embedder),
        "bm25": bm25(corpus, questions),
    }
    baselines_s = time.perf_counter() - t1

    latencies = sorted(ran["latencies"])
    print(
        f"\neval: {len(users)} users, {len(events)} events, {len(questions)} questions; "
        f"/chunks top_k={K}"
    )
    print(
        f"  system: started in {ran['started_s']:.1f} s, ingested and indexed in "
        f"{ran['ingest_s']:.1f} s, /chunks p50 {1000 * statistics.median(latencies):.0f} ms "
        f"p95 {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms (sequential)"
    )
    print(f"  baselines computed in {baselines_s:.1f} s\n")
    print("R@k: share of the labeled events in the top k (multi-hop: both needed); H@10: any")
    print("of them in the top 10. No-answer questions are left out here and in `all`.\n")
    print(table(questions, methods))
    print()
    print(no_answer(questions, methods))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    if args.out:
        args.out.write_text(
            json.dumps(
                [
                    {**q, **{name: r[i].event_ids for name, r in methods.items()}}
                    for i, q in enumerate(questions)
                ],
                indent=1,
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()

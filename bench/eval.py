"""`make eval`: how often /chunks finds the memory that answers, against two baselines.

Starts the whole system (`persona run`, embedded default) in a scratch folder,
registers the users of a labeled set (tests/data/eval, made by
tests/data/make_eval_dataset.py; or `--set chat`, below), ingests their events
through HTTP POST /ingest, waits until every job has succeeded, asks every question
through POST /chunks with top_k=10, and stops it.
Whatever ranking /chunks has, this measures it from the outside.

Then, in this process and on the same data, baselines rank the same chunk texts
(each under the header the system embeds, `pipeline.chunking.header`):
  dense: exact cosine with the project's own embedder (PERSONA_EMBEDDING_MODEL);
  bm25:  bm25s (Lucene BM25, English stopwords, Snowball stemmer);
  fuse:  the two, min-max normalised over the union of their top 50, then mixed with
         a lexical weight λ (0.5 unless named: `--weights` adds others);
  rrf, dbsf: Qdrant's own fusions (reciprocal rank; distribution-based), emulated;
  shipped: the system's own fusion (`pipeline.retrieval.search.fuse`) on the same
         candidates (each side's top 50).
`--sparse AVG_LEN...` adds Qdrant's BM25 inside a Qdrant Edge shard (`bench.sparse`),
alone and fused each way. `--splade MODEL_DIR` adds a learned sparse encoder,
splade-tiny (`bench.splade`; `make splade` fetches it), alone and fused each way, and
its texts/s beside the configured model's on the same chunks.
`--set chat` asks the second labeled set, long two-person chats over dated sessions
(tests/data/make_chat_dataset.py). `--contextual` adds dense and fuse on turns embedded
after the turn before them in the same conversation (the turn itself is returned).
`--baselines-only` skips the system. `--quality-model` adds MPNet (its own chunking):
dense and fuse on MPNet (the quality model at index time), and rerank (at query time:
the configured model's top 50 re-ranked by MPNet cosine); the models embed the corpus
taking turns, so their texts/s compare, and a few queries time what a re-rank costs
when the candidates' MPNet vectors are not stored. MPNet over the whole corpus takes
about 15 minutes on 2 shared cores, hence the flag.

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
from bench.context import contextual
from bench.rerank import DEPTH, dbsf, fuse, rerank, rrf, shipped, top
from bench.sparse import edge_bm25
from bench.splade import Splade, speeds, splade_scores
from pipeline.chunking import Chunker, Source
from pipeline.config import get_settings
from pipeline.embedding import Embedder
from pipeline.models import MPNET

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = ("eval", "chat")
K = 10
BATCH = 1000  # events per /ingest request, the contract's bound
KINDS = ["single", "when", "multi", "preference"]
FAMILIES = ("dense", "rerank", "bm25", "splade", "fuse", "rrf", "dbsf", "shipped")
"""The order methods outside the system are printed in: by the first word of their name."""


@dataclass(frozen=True)
class Ranking:
    """One method's answer to one question: distinct event ids, best first."""

    event_ids: list[str]
    top_score: float | None


def load(name: str) -> tuple[list[dict], list[dict], list[dict]]:
    memories = json.loads((DATA / name / "memories.json").read_text(encoding="utf-8"))
    questions = json.loads((DATA / name / "questions.json").read_text(encoding="utf-8"))
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

Corpus = dict[str, list[tuple[str, str]]]
"""Per user, (event id, header + chunk) for every chunk: what the system embeds."""


def chunk_texts(events: list[dict], chunker: Chunker) -> Corpus:
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
    per_user: Corpus = defaultdict(list)
    for e, pieces in zip(events, chunker.split_many(sources), strict=True):
        per_user[e["user_id"]] += [(e["event_id"], p.embed_text) for p in pieces]
    return per_user


def rank_by(scores: np.ndarray, ids: list[str]) -> Ranking:
    """Best first; equal scores keep corpus order, so the result is deterministic."""
    order = np.argsort(-scores, kind="stable")[: K * 2]
    return Ranking(distinct([ids[i] for i in order])[:K], float(scores[order[0]]))


def ranked(corpus: Corpus, questions: list[dict], scores: list[np.ndarray]) -> list[Ranking]:
    """Each question's ranking from its scores over its user's chunks."""
    return [
        rank_by(s, [e for e, _ in corpus[q["user_id"]]])
        for q, s in zip(questions, scores, strict=True)
    ]


@dataclass(frozen=True)
class Index:
    """One model's vectors of the chunks it would index, and the seconds they took."""

    embedder: Embedder
    corpus: Corpus
    vectors: dict[str, np.ndarray]
    seconds: float

    @property
    def rate(self) -> float:
        """Texts per second embedding the corpus: the index-time cost."""
        return sum(len(v) for v in self.vectors.values()) / self.seconds


def index_side_by_side(pairs: list[tuple[Embedder, Corpus]]) -> list[Index]:
    """Each corpus embedded by its model, user by user with the models taking turns: a
    shared machine that slows down mid-run slows every model alike, so the ratio of
    their texts/s holds even where the rates do not."""
    for embedder, _ in pairs:
        embedder.embed(["warm up"] * embedder.batch_size)  # first runs allocate
    vectors: list[dict[str, np.ndarray]] = [{} for _ in pairs]
    seconds = [0.0] * len(pairs)
    for user in pairs[0][1]:
        for i, (embedder, corpus) in enumerate(pairs):
            t0 = time.perf_counter()
            vectors[i][user] = embedder.embed([t for _, t in corpus[user]])
            seconds[i] += time.perf_counter() - t0
    return [Index(e, c, v, s) for (e, c), v, s in zip(pairs, vectors, seconds, strict=True)]


def dense(index: Index, questions: list[dict]) -> list[np.ndarray]:
    """Exact cosine of each question to every chunk of its user."""
    queries = index.embedder.embed([q["question"] for q in questions])
    return [index.vectors[q["user_id"]] @ v for q, v in zip(questions, queries, strict=True)]


def bm25(corpus: Corpus, questions: list[dict]) -> list[np.ndarray]:
    """BM25 score of each question to every chunk of its user."""
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
        index = indexes[q["user_id"]]
        query = [t for t in tokens([q["question"]])[0] if t in index.vocab_dict]
        scores = index.get_scores(query) if query else np.zeros(len(corpus[q["user_id"]]))
        out.append(np.asarray(scores, dtype=np.float64))
    return out


Scored = dict[str, tuple[Corpus, list[np.ndarray]]]
"""Per method, the chunks it ranks and its score of each, per question."""


def on_model(
    index: Index,
    questions: list[dict],
    weights: tuple[float, ...] = (),
    tag: str = "",
    words: Corpus | None = None,
) -> Scored:
    """Scores of dense, and of its fusions with BM25 (λ 0.5 and `weights`, and the
    system's), on one model's own chunks; BM25 over `words` when given (the same chunks
    as they are stored, where the index embedded them with context: `tag` says so)."""
    scores = dense(index, questions)
    lexical = bm25(words or index.corpus, questions)
    name = f"{index.embedder.model.name}{tag}"
    out: Scored = {f"dense {name}": (index.corpus, scores)}
    out |= fusions(index.corpus, name, lexical, scores, weights)
    if not tag:
        out["bm25"] = (index.corpus, lexical)
    return out


def in_index(
    index: Index, dense: list[np.ndarray], lexical: list[np.ndarray], avg: float, weights: tuple
) -> Scored:
    """Qdrant's own BM25 (`bench.sparse`, mean length `avg`) alone and fused with `dense`:
    convexly (λ 0.5 and `weights`), by Qdrant's fusions (RRF, DBSF), and by the system's:
    what /chunks does on a generation whose points hold their terms."""
    lexical = [np.where(np.isfinite(x), x, 0.0) for x in lexical]
    tag = f"edge avg={avg:g}"
    out: Scored = {f"bm25 {tag}": (index.corpus, lexical)}
    return out | fusions(
        index.corpus, f"{index.embedder.model.name} {tag}", lexical, dense, weights
    )


def fusions(
    corpus: Corpus,
    name: str,
    lexical: list[np.ndarray],
    dense: list[np.ndarray],
    weights: tuple[float, ...],
) -> Scored:
    """Every fusion of a lexical and a dense side: convex at λ 0.5 (and at `weights`),
    Qdrant's RRF and DBSF, and the system's own."""
    out: Scored = {f"fuse {name}": (corpus, list(map(fuse, lexical, dense)))}
    for w in weights:
        out[f"fuse {name} λ={w:g}"] = (
            corpus,
            [fuse(b, d, w) for b, d in zip(lexical, dense, strict=True)],
        )
    out[f"rrf {name}"] = (corpus, list(map(rrf, lexical, dense)))
    out[f"dbsf {name}"] = (corpus, list(map(dbsf, lexical, dense)))
    out[f"shipped {name}"] = (corpus, list(map(shipped, lexical, dense)))
    return out


def reranked(
    base: Index, best: Index, questions: list[dict], first: list[np.ndarray], second: Scored
) -> Scored:
    """`base`'s top DEPTH (`first`) re-ranked by `best`'s cosine to `base`'s chunks: the
    scores of `second` (`best`'s dense) when both models chunk alike, as short events do."""
    scores = second[f"dense {best.embedder.model.name}"][1]
    if best.corpus != base.corpus:
        scores = dense(index_side_by_side([(best.embedder, base.corpus)])[0], questions)
    name = f"rerank {best.embedder.model.name}"
    return {name: (base.corpus, list(map(rerank, first, scores)))}


def query_costs(
    base: Index, quality: Embedder, questions: list[dict], first: list[np.ndarray], n: int
) -> dict[str, list[float]]:
    """Ms to embed, in this process, n evenly spaced questions alone with either model,
    and with their DEPTH candidates from `first` by `quality`: what a re-rank costs per
    query when `quality`'s vectors of the candidates are not stored."""
    costs: dict[str, list[float]] = defaultdict(list)
    step = max(1, len(questions) // n)
    for q, scores in list(zip(questions, first, strict=True))[::step][:n]:
        rows = base.corpus[q["user_id"]]
        candidates = sorted((rows[i][1] for i in top(scores)), key=len)
        for name, embedder, texts in (
            (f"query {base.embedder.model.name}", base.embedder, [q["question"]]),
            (f"query {quality.model.name}", quality, [q["question"]]),
            (f"query+{DEPTH} {quality.model.name}", quality, [q["question"], *candidates]),
        ):
            t0 = time.perf_counter()
            embedder.embed(texts)
            costs[name].append(1000 * (time.perf_counter() - t0))
    return costs


def baselines(
    events: list[dict], questions: list[dict], args: argparse.Namespace
) -> tuple[dict[str, list[Ranking]], list[str]]:
    """Every method outside the system, on the configured model (with `args.contextual`,
    on contextual turns too) and, with `args.quality_model`, on MPNet too (index time
    and query time); and lines saying what embedding cost."""
    quality, timed, weights = args.quality_model, args.timed, tuple(args.weights)
    settings = get_settings().embedding
    embedders = [Embedder.all_cores(settings)]
    embedders += [Embedder.all_cores(settings, MPNET)] if quality else []
    chunked = [chunk_texts(events, Chunker(e.tokenizer, e.max_tokens)) for e in embedders]
    pairs = list(zip(embedders, chunked, strict=True))
    if args.contextual:
        pairs.append((embedders[0], contextual(chunked[0], events)))
    indexes = index_side_by_side(pairs)
    scored = on_model(indexes[0], questions, weights)
    if args.contextual:
        scored |= on_model(indexes[-1], questions, weights, " ctx", words=chunked[0])
    first = scored[f"dense {embedders[0].model.name}"][1]
    for avg in args.sparse:
        scored |= in_index(indexes[0], first, edge_bm25(chunked[0], questions, avg), avg, weights)
    splade = Splade(args.splade) if args.splade else None
    if splade:
        lexical = splade_scores(splade, chunked[0], questions)
        scored["splade"] = (chunked[0], lexical)
        scored |= fusions(chunked[0], f"{embedders[0].model.name} splade", lexical, first, weights)
    rates = [
        f"{i.embedder.model.name} {sum(map(len, i.vectors.values()))} texts at {i.rate:.1f}/s"
        for i in indexes[: len(embedders)]
    ]
    lines = [f"embedding the corpus: {', '.join(rates)}"]
    if quality:
        best = {k: v for k, v in on_model(indexes[1], questions, weights).items() if k != "bm25"}
        scored |= best | reranked(indexes[0], indexes[1], questions, first, best)
        lines[0] += f"; ratio {indexes[1].rate / indexes[0].rate:.3f} (same run, taking turns)"
    if quality and timed:
        costs = query_costs(indexes[0], embedders[1], questions, first, timed)
        medians = [f"{k} {statistics.median(v):.0f}" for k, v in costs.items()]
        lines.append(f"per query, ms (median of {timed}): {', '.join(medians)}")
    if splade:
        lines.append(speeds(splade, embedders[0], [t for r in chunked[0].values() for _, t in r]))
    order = sorted(scored, key=lambda name: FAMILIES.index(name.split()[0]))
    return {name: ranked(scored[name][0], questions, scored[name][1]) for name in order}, lines


# --- figures -----------------------------------------------------------------


def recall(ranking: Ranking, gold: list[str], k: int) -> float:
    return len(set(ranking.event_ids[:k]) & set(gold)) / len(gold)


def hit(ranking: Ranking, gold: list[str], k: int) -> float:
    return float(bool(set(ranking.event_ids[:k]) & set(gold)))


def figures(rankings: list[Ranking], questions: list[dict], idx: list[int]) -> list[float]:
    """R@5, R@10 and H@10 averaged over the questions `idx`."""
    return [
        statistics.fmean(f(rankings[i], questions[i]["event_ids"], k) for i in idx)
        for f, k in ((recall, 5), (recall, 10), (hit, 10))
    ]


def table(questions: list[dict], methods: dict[str, list[Ranking]]) -> str:
    """A row per method, so that methods compare down a column; R@5, R@10 and H@10 for
    each kind of question, then for all of them."""
    kinds = [k for k in KINDS if any(q["kind"] == k for q in questions)]
    groups = {
        kind: [
            i
            for i, q in enumerate(questions)
            if q["event_ids"] and (kind == "all" or q["kind"] == kind)
        ]
        for kind in [*kinds, "all"]
    }
    width = max(map(len, ["method", *methods])) + 2
    over = " " * width + "".join(f"{f'{k} ({len(i)})':>18}" for k, i in groups.items())
    head = f"{'method':<{width}}" + f"{'R@5':>6}{'R@10':>6}{'H@10':>6}" * len(groups)
    lines = [over, head, "-" * len(head)]
    for name, rankings in methods.items():
        cells = [v for idx in groups.values() for v in figures(rankings, questions, idx)]
        lines.append(f"{name:<{width}}" + "".join(f"{v:>6.3f}" for v in cells))
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
            f"  {name:<13} {statistics.median(yes):8.3f} / {statistics.median(no):8.3f}"
            f"   AUROC {auroc:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="write every method's ranking per question")
    parser.add_argument(
        "--baselines-only", action="store_true", help="skip the system: methods outside it only"
    )
    parser.add_argument(
        "--quality-model",
        action="store_true",
        help=f"also {MPNET.name}: dense, fused, re-ranking the first stage's top {DEPTH}",
    )
    parser.add_argument(
        "--timed", type=int, default=5, help="questions whose query-time re-rank is timed"
    )
    parser.add_argument("--set", choices=SETS, default="eval", help="which labeled set to ask")
    parser.add_argument(
        "--weights", type=float, nargs="*", default=[], help="more lexical weights λ to fuse with"
    )
    parser.add_argument(
        "--contextual", action="store_true", help="also chat turns embedded after the one before"
    )
    parser.add_argument(
        "--sparse",
        type=float,
        nargs="*",
        default=[],
        metavar="AVG_LEN",
        help="also Qdrant's own BM25 inside the index, with these mean lengths",
    )
    parser.add_argument(
        "--splade",
        type=Path,
        metavar="MODEL_DIR",
        help="also SPLADE (splade-tiny) from this folder: `make splade` fetches it into "
        "var/models/splade/model",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    users, events, questions = load(args.set)
    ran = None if args.baselines_only else run_system(users, events, questions)
    t1 = time.perf_counter()
    outside, costs = baselines(events, questions, args)
    methods = ({"system": ran["rankings"]} if ran else {}) | outside
    baselines_s = time.perf_counter() - t1

    print(
        f"\neval ({args.set}): {len(users)} users, {len(events)} events, "
        f"{len(questions)} questions; top_k={K}"
    )
    if ran:
        latencies = sorted(ran["latencies"])
        print(
            f"  system: started in {ran['started_s']:.1f} s, ingested and indexed in "
            f"{ran['ingest_s']:.1f} s, /chunks p50 {1000 * statistics.median(latencies):.0f} ms "
            f"p95 {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.0f} ms (sequential)"
        )
    print(f"  baselines computed in {baselines_s:.1f} s")
    print("".join(f"  {line}\n" for line in costs))
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

"""What the pipeline counts, for Prometheus: the model, the index, and the system's state.

Counters and histograms are `prometheus_client` objects in each process. Where
`PROMETHEUS_MULTIPROC_DIR` is set (`persona run` sets it for all its processes), each
process writes them to files there and the gateway's `GET /metrics` adds them all up,
so one scrape sees the gateway's requests, the worker's tasks and the model's batches.
Without it, each process keeps its own (a worker then serves them on
`PERSONA_METRICS_PORT`).

The state of the system belongs to no process: `pipeline.system_state` reads it when
a scrape asks. No label carries a user id or user content: labels are task names, queues, states,
routes and outcomes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TEXTS_EMBEDDED = Counter(
    "persona_embedded_texts", "Texts the embedding model read, by model", ["model"]
)
EMBED_BATCH = Histogram(
    "persona_embed_batch_texts",
    "Texts per call of the embedding model",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
EMBED_SECONDS = Histogram(
    "persona_embed_seconds", "Time of one call of the embedding model", ["model"]
)
ITEMS_INDEXED = Counter(
    "persona_items_indexed", "Items made searchable, by kind of work (ingest, reprocess)", ["by"]
)
JOBS_ENDED = Counter(
    "persona_jobs_ended",
    "Jobs that ended, by kind and status (counted once committed)",
    ["kind", "status"],
)
INDEX_SECONDS = Histogram(
    "persona_index_seconds",
    "Time of one call of the vector index, by operation",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
WEBHOOK_ATTEMPTS = Counter(
    "persona_webhook_attempts",
    "Outbound webhook delivery attempts, by the delivery's state after each "
    "(succeeded, pending: to be retried, failed: given up)",
    ["state"],
)

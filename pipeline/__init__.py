"""Persona's domain: storage, ingestion, retrieval, summaries and erasure, free of HTTP
and Celery.

Modules, in the order the data moves through them:

Shared contracts, read by the gateway and the workers alike:
- `config`: the one settings tree (`PERSONA_*`);
- `errors`: the one error hierarchy, and which failures are transient;
- `schemas`: the wire's request and response models;
- `messages`: the queue contract: queues, task names, payloads, the reply format;
- `status`: the states a row can be in;
- `keyspace`: every Redis key of a user or an organization.

The source of truth and its rules (database only: the gateway may call them):
- `db/`: engine and session scopes, the tables, the migrations;
- `keys`, `limits`: API keys, rate limits and quotas of an organization;
- `users`: end users, their row lock and their write lock;
- `jobs`: job rows, claimed by a worker and finished once.

From text to the index (worker side):
- `chunking` → `embedding` → `vectors/`: items to chunks, chunks to vectors,
  vectors into Qdrant (a server, or Qdrant Edge in process);
- `runtime`: what a worker keeps warm (engine, model, index) and hands to the flows.

The flows, each a package whose modules are its steps in order:
- `ingest/`: `accept` (gateway) → `index` (worker);
- `retrieval/`: `lexical` + `search` → `answers`;
- `summaries/`: per-purpose summaries, precomputed when ingestion settles;
- `erasure/`: `request` (gateway) → `run` (worker), proved by `footprint`.
- `export`: everything held about one user, as lines (the right of access).

`llm` is the optional OpenAI-compatible edge of answers and summaries;
`logs` the logging set-up; `metrics` what the pipeline counts for Prometheus and
`system_state` the gauges read at scrape time. `local/` runs the whole stack on one machine
(`persona run`, the embedded servers, the model build) and is not the product.
"""

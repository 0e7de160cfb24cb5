"""Ingestion: an accepted item becomes searchable, exactly once.

Modules, in the order the data moves:

- `accept`: the gateway's half. In the request's transaction the items are
  stored (re-sent ones counted as duplicates) with the job that will index
  them; the job id is published once that commits (the outbox);
- `index`: the worker's half. The job is claimed, its items chunked
  (`pipeline.chunking`) and embedded (`pipeline.embedding`), then the points
  (`pipeline.vectors`) and chunk rows written under the user's write lock.

This package's `__init__` imports nothing, so the gateway can import `accept`
without pulling the model or the vector index in.
"""

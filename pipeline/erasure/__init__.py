"""Erasing a user everywhere, and proving it.

Modules, in the order the work moves:

- `request`: the gateway's half. In one transaction the user is marked
  `deleting` (every write for it answers USER_DELETING from then on) and the
  erasure job is written; its id is published once that commits;
- `run`: the worker's half. Under the user's write lock its rows go from every
  table with a `user_pk`, then its points (by tenant) and its Redis keys (by
  prefix), then `footprint` counts again; the report is the job's result;
- `footprint`: what a user occupies in each store, found the way the erasure
  removes it (the catalog's `user_pk` tables, the tenant, the key prefix), so
  the count and the deletion cannot disagree.

This package's `__init__` imports nothing, so the gateway can import `request`
without pulling the vector index in.
"""

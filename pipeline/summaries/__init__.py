"""Per-purpose summaries of a user: deterministic text, precomputed when ingestion settles.

Modules, in the order the data moves:

- `purposes`: what each purpose looks for (query phrases, keywords, traits);
- `traits`: the profile's traits as short sentences;
- `facts`: the most salient non-redundant facts among the user's chunks (worker side);
- `writing`: sentences cut to `max_chars` at a sentence boundary;
- `store`: versions, the Postgres rows and their Redis hot copy (gateway-safe: no ML);
- `debounce`: one refresh per burst of ingestion, decided in Redis;
- `service`: the cold computation and the refresh, which tie the others together.

This package's `__init__` imports nothing, so the gateway can import `store`
without pulling the model or the vector index in.
"""

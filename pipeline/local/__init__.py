"""Persona on one machine: what `make run` starts, apart from the product itself.

- `cli`: the `persona` command (run, migrate, keys, orgs, sources, endpoints), and
  `remote`, its client of the running system for background work (reindex,
  summaries rebuild) with a progress bar;
- `supervisor`: `persona run`, which starts the embedded servers, the gateway,
  a worker and beat, and stops them in order;
- `embedded/`: real PostgreSQL and Redis servers from pip-installed binaries;
- `model_build`: the embedding models built offline from the weights packages ship
  (`weights` pins them, `graphs/` writes the encoders, `quantize` the int8 option).

The distributed shape needs none of this: it points the same code at servers.
"""

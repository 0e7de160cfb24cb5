"""Persona on one machine: what `make run` starts, apart from the product itself.

- `cli`: the `persona` command (run, migrate, keys, orgs);
- `supervisor`: `persona run`, which starts the embedded servers, the gateway,
  a worker and beat, and stops them in order;
- `embedded/`: real PostgreSQL and Redis servers from pip-installed binaries;
- `model_build`: the embedding model built offline from the weights a package ships.

The distributed shape needs none of this: it points the same code at servers.
"""

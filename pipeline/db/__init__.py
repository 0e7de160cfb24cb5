"""PostgreSQL, the system of record: models, engine, sessions and migrations."""

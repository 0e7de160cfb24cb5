"""Real PostgreSQL and Redis servers from pip-installed binaries, for the embedded default.

`EmbeddedStack` is what the `persona` command uses; the single-server classes
are there for tests and tools that need only one of them.
"""

from pipeline.local.embedded.postgres import EmbeddedPostgres
from pipeline.local.embedded.process import (
    SERVICE_ACCOUNT,
    DataDirInUseError,
    EmbeddedError,
    ServerStartError,
    free_port,
)
from pipeline.local.embedded.redis import EmbeddedRedis
from pipeline.local.embedded.stack import EmbeddedStack

__all__ = [
    "SERVICE_ACCOUNT",
    "DataDirInUseError",
    "EmbeddedError",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedStack",
    "ServerStartError",
    "free_port",
]

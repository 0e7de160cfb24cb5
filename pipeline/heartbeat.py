"""Which worker processes are alive: each renews a key in Redis every few seconds.

A worker killed mid-job (by the kernel for memory, by SIGKILL) leaves its job
`running` and its message unacknowledged in Redis, which redelivers it only
after the broker's visibility timeout (half an hour). Jobs name the worker that
claimed them; once that worker's key has expired, the sweeper re-publishes the
job, so it is done again within seconds of `TTL_S`, not of the timeout. Running
a job twice is harmless: every step is idempotent.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import redis

from pipeline import keyspace

INTERVAL_S = 5.0
TTL_S = 15.0  # three missed beats: the worker is gone


def worker_id() -> str:
    """This process, as jobs name their worker: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(client: redis.Redis, worker: str) -> None:
    client.set(keyspace.worker_key(worker), "1", px=int(TTL_S * 1000))


def alive(client: redis.Redis, workers: list[str]) -> set[str]:
    """The workers among `workers` whose key has not expired."""
    if not workers:
        return set()
    pipe = client.pipeline(transaction=False)
    for worker in workers:
        pipe.exists(keyspace.worker_key(worker))
    return {w for w, found in zip(workers, pipe.execute(), strict=True) if found}


def keep_beating(client: redis.Redis, worker: str, stop: threading.Event) -> threading.Thread:
    """A daemon thread that beats every `INTERVAL_S` until `stop` is set; a failed beat
    (Redis restarting) is tried again at the next interval."""

    def loop() -> None:
        while True:
            with contextlib.suppress(redis.RedisError):  # at worst a job is done twice
                beat(client, worker)
            if stop.wait(INTERVAL_S):
                return

    thread = threading.Thread(target=loop, name="persona-heartbeat", daemon=True)
    thread.start()
    return thread

"""Group commit: requests that arrive while a write is in flight share the next one.

A stream of one-event `POST /ingest` requests made each request pay a transaction
(its commit waits for the disk), a connection from the pool and a published
message: about 10 ms of CPU per request, and 134 requests/s from 16 clients on
2 cores (`make bench-stream`). Here the first request of a quiet moment is written
at once, alone; those that arrive while it is being written wait for it and then
go together, in one transaction and one message, each with its own answer. Nothing
waits on a timer, so a lone request costs no more than before, and under load the
groups grow by themselves to what arrived during one commit (the way databases
group their log flushes). `in_flight` writes go on at once (default 2), so that one
group is written while the last one waits for its commit to reach the disk.

Each request keeps its own context (log fields, trace): a group runs in the context
of its first request, so a group of one is traced and logged exactly as before.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]
    context: contextvars.Context


class GroupCommit(Generic[T, R]):
    """Runs `write(items)` on the thread pool, one group at a time; `write` returns one
    result per item, an exception for an item it refused. If `write` raises, every
    request of its group gets that error. A group holds the waiting items, in order,
    while their `weight` adds up to `max_weight` (and always one, however heavy)."""

    def __init__(
        self,
        write: Callable[[list[T]], list[R | Exception]],
        weight: Callable[[T], int],
        max_weight: int,
        in_flight: int = 2,
    ) -> None:
        self._write = write
        self._weight = weight
        self._max_weight = max_weight
        self._in_flight = in_flight
        self._waiting: list[_Waiting[T, R]] = []
        self._writers: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Requests waiting for a write: what the next groups will hold."""
        return len(self._waiting)

    async def submit(self, item: T) -> R:
        """`item`'s result, once the transaction that wrote it has committed."""
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, answer, contextvars.copy_context()))
        if len(self._writers) < self._in_flight:
            writer = asyncio.create_task(self._drain())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await answer

    async def _drain(self) -> None:
        while self._waiting:
            await self._commit(self._next_group())

    def _next_group(self) -> list[_Waiting[T, R]]:
        size, total = 0, 0
        for waiting in self._waiting:
            total += self._weight(waiting.item)
            if size and total > self._max_weight:
                break
            size += 1
        group = self._waiting[:size]
        del self._waiting[:size]
        return group

    async def _commit(self, group: list[_Waiting[T, R]]) -> None:
        items = [waiting.item for waiting in group]
        try:
            results = await run_in_threadpool(group[0].context.copy().run, self._write, items)
        except Exception as exc:  # a store not answering: each request answers with it
            results = [exc] * len(group)
        for waiting, result in zip(group, results, strict=True):
            if waiting.answer.done():  # its client went away
                continue
            if isinstance(result, Exception):
                waiting.answer.set_exception(result)
            else:
                waiting.answer.set_result(result)

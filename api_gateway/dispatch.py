"""Sending tasks by name: the gateway produces messages but never imports `workers`.

A route gets the `Dispatcher` through the `DispatchDep` dependency: `publish`
sends a job's message only once the request's transaction has committed (the
outbox: a crash before the commit publishes nothing, one after it leaves the
sweeper to re-send), and `call` runs a read on a worker and waits for its reply.
Every task answers in one format (`pipeline.messages.ok_reply`/`error_reply`).

A read of the retrieval queue goes straight to the worker that holds the index
where `reads.url` names one (`workers.reads`: one HTTP request on a local socket,
no broker and no result backend); while nothing answers there (a worker starting
or restarting), it takes the queue, as every read did before.

Either way the request's log context goes with the work (`pipeline.context`, in a
task header or an HTTP header), with the ids the message names, so the worker's log
lines of that work carry the request's id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import httpx
from celery import Celery
from celery.exceptions import TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline import context, telemetry
from pipeline.config import Settings, unix_socket_path
from pipeline.db.engine import after_commit
from pipeline.errors import Unavailable
from pipeline.messages import DIRECT_READS, Message, Task, celery_config, unwrap_reply

log = logging.getLogger("persona.gateway")


def create_producer(settings: Settings) -> Celery:
    app = Celery("persona-gateway")
    app.conf.update(celery_config(settings))
    return app


def context_of(message: Message) -> dict[str, str | int]:
    """The current log context, with the ids `message` names (its job, organization, user)."""
    named = {
        "job_id": getattr(message, "job_id", None),
        "org": getattr(message, "org_id", None),
        "user_pk": getattr(message, "user_pk", None),
    }
    return context.current() | context.decode(named)


def send(producer: Celery, task: Task, message: Message) -> str:
    """Publish `message` to the queue routed for `task`; returns the task id."""
    return producer.send_task(
        task,
        kwargs=message.model_dump(mode="json"),
        headers={context.HEADER: context_of(message)},
    ).id


def call(producer: Celery, task: Task, message: Message, timeout_s: float) -> Any:
    """Run `task` on a worker and wait for its reply (RPC over the result backend).

    A domain error in the reply is raised again here; no reply in time is 503.
    The message expires with the wait, so a late worker does not do work nobody reads;
    it answers "revoked" instead, which can arrive before Celery notices the deadline
    (it checks between waits of up to a second), and means the same: 503.
    """
    result = producer.send_task(
        task,
        kwargs=message.model_dump(mode="json"),
        expires=timeout_s,
        headers={context.HEADER: context_of(message)},
    )
    try:
        reply = result.get(timeout=timeout_s, propagate=True)
    except (CeleryTimeout, TaskRevokedError) as exc:
        raise Unavailable(
            f"No worker answered within {timeout_s:g}s; retry shortly", retry_after_s=1
        ) from exc
    finally:
        result.forget()
    return unwrap_reply(reply)


@dataclass(frozen=True)
class Reads:
    """The workers' direct reads, where `reads.url` names them: a blocking client for
    routes that run on the thread pool, and an asyncio one for the hot reads (`/chunks`,
    `/query`), which then cost no hop to a thread.

    The asyncio one is aiohttp's: its C parser costs the gateway about a third of what
    httpx's asyncio client does per read (0.32 against 1.1 ms of CPU on this machine,
    each calling a trivial server on a Unix socket in a loop); httpx's took 43% of the
    gateway's samples while serving `/chunks`."""

    blocking: httpx.Client
    asynchronous: aiohttp.ClientSession

    def close(self) -> None:
        self.blocking.close()

    async def aclose(self) -> None:
        await self.asynchronous.close()


def reads_client(settings: Settings) -> Reads | None:
    """Clients of the workers' direct reads, where `reads.url` names them (called on the
    event loop that will use the asyncio one)."""
    url, token = settings.reads.url, settings.reads.token
    if not url:
        return None
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    if (path := unix_socket_path(url)) is not None:
        return Reads(
            httpx.Client(
                transport=httpx.HTTPTransport(uds=path), base_url="http://worker", headers=headers
            ),
            aiohttp.ClientSession(
                "http://worker", connector=aiohttp.UnixConnector(path=path), headers=headers
            ),
        )
    return Reads(
        httpx.Client(base_url=url, headers=headers),
        aiohttp.ClientSession(url, headers=headers),
    )


def _headers(message: Message) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        context.HEADER: json.dumps(context_of(message), separators=(",", ":")),
    }


def _late(timeout_s: float) -> Unavailable:
    return Unavailable(f"No worker answered within {timeout_s:g}s; retry shortly", retry_after_s=1)


def ask(client: httpx.Client, task: Task, message: Message, timeout_s: float) -> Any:
    """`task`'s reply from the worker's read server; ConnectError when none listens (the
    caller then takes the queue); no reply in time is 503."""
    try:
        response = client.post(
            f"/reads/{task}",
            content=message.model_dump_json(),
            headers=_headers(message),
            timeout=timeout_s,
        )
    except httpx.TimeoutException as exc:
        raise _late(timeout_s) from exc
    response.raise_for_status()  # anything but a reply is a bug on one side: a 500
    return unwrap_reply(response.json())


async def ask_async(
    session: aiohttp.ClientSession, task: Task, message: Message, timeout_s: float
) -> Any:
    """`ask`, awaited: ClientConnectionError when none listens or the worker went away
    (the caller then takes the queue; a read may run twice, which changes nothing); no
    reply in time is 503."""
    headers = _headers(message)
    telemetry.propagate(headers)  # httpx's instrumentation does this for `ask`
    try:
        async with session.post(
            f"/reads/{task}",
            data=message.model_dump_json(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            response.raise_for_status()  # anything but a reply is a bug on one side: a 500
            return unwrap_reply(json.loads(await response.read()))
    except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
        raise _late(timeout_s) from exc


class Dispatcher:
    """The gateway's way to the workers (see the module docstring)."""

    def __init__(self, producer: Celery, timeout_s: float, reads: Reads | None = None) -> None:
        self._producer, self.timeout_s, self._reads = producer, timeout_s, reads

    def publish(self, session: Session, task: Task, message: Message) -> None:
        """Send `message` once `session` (the request's) commits; never if it rolls back."""
        after_commit(session, partial(send, self._producer, task, message))

    def call(self, task: Task, message: Message, extra_s: float = 0.0) -> Any:
        """The worker's reply to `message`, waited for `gateway.rpc_timeout_s` (plus
        `extra_s`, for a read that may wait on an LLM); 503 if none comes."""
        timeout_s = self.timeout_s + extra_s
        if self._reads is not None and task in DIRECT_READS:
            try:
                return ask(self._reads.blocking, task, message, timeout_s)
            except httpx.ConnectError:
                log.debug("no direct reads at the moment: %s takes the queue", task)
        return call(self._producer, task, message, timeout_s)

    async def read(self, task: Task, message: Message, extra_s: float = 0.0) -> Any:
        """`call` for a direct read, awaited on the event loop; the queue, where it must be
        taken, on the thread pool."""
        timeout_s = self.timeout_s + extra_s
        if self._reads is not None and task in DIRECT_READS:
            try:
                return await ask_async(self._reads.asynchronous, task, message, timeout_s)
            except aiohttp.ClientConnectionError:
                log.debug("no direct reads at the moment: %s takes the queue", task)
        return await run_in_threadpool(call, self._producer, task, message, timeout_s)

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()

    async def aclose(self) -> None:
        if self._reads is not None:
            await self._reads.aclose()

"""`AsyncPersona`: `Persona`'s methods, awaited, on an `httpx.AsyncClient`.

The same calls (`calls`), retries (`retries`), batches (`batching`) and polling
(`jobs`) as the blocking client; only the sending and the waiting differ.
tests/clients/test_operations_drift.py holds the two to the same methods.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import IO, Any, TypeVar

import httpx

from persona_client import calls, jobs, models
from persona_client.batching import MAX_BODY_BYTES, MAX_ITEMS, IngestSummary, Item, plan
from persona_client.calls import Call
from persona_client.errors import ConnectionFailed, PayloadTooLarge, error_for
from persona_client.retries import Retries
from persona_client.wire import headers_for, request_args

T = TypeVar("T")


class AsyncPersona:
    """A Persona server at `base_url`, called with `api_key`.

    Pass `http_client` to choose the transport, proxies or event hooks; it is then
    yours to close. Without it the client owns one, closed by `aclose()` or `async with`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: Retries | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries or Retries()
        self._headers = headers_for(api_key)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncPersona:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send `call`, retrying as `retries` allows; its answer, or the error raised."""
        if call.sink is not None:
            async with self._streamed(call) as response:
                async for chunk in response.aiter_bytes():
                    call.sink.write(chunk)
            return call.parse(response)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    **request_args(self.base_url, self._headers, call)
                )
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return call.parse(response)
            wait = self.retries.delay(attempt, response)
            if wait is None:
                raise error_for(response)
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def _streamed(self, call: Call[Any]) -> AsyncIterator[httpx.Response]:
        """`call`'s successful answer, its body not yet read, retried as `send` retries."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._http.stream(
                    **request_args(self.base_url, self._headers, call)
                ) as response:
                    if response.is_success:
                        yield response
                        return
                    await response.aread()
                    wait = self.retries.delay(attempt, response)
                    if wait is None:
                        raise error_for(response)
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(wait)

    # Health

    async def health(self) -> dict[str, Any]:
        """The process answers (`GET /healthz`)."""
        return await self.send(calls.health())

    async def ready(self) -> dict[str, Any]:
        """PostgreSQL and Redis answer (`GET /readyz`); Unavailable if not."""
        return await self.send(calls.ready())

    # Users

    async def register(
        self, user_id: str, traits: Mapping[str, Any] | None = None, purpose: str | None = None
    ) -> models.RegisterResponse:
        """Create the user, or deep-merge `traits` into its profile (`PUT /register`)."""
        return await self.send(calls.register(user_id, traits, purpose))

    async def create_user(
        self, user_id: str, metadata: Mapping[str, Any] | None = None
    ) -> models.EndUser:
        """Create the user; an existing one is returned unchanged (`POST /v1/end-users`)."""
        return await self.send(calls.create_user(user_id, metadata))

    async def get_user(self, user_id: str) -> models.EndUser:
        """The user (`GET /v1/end-users/{user_id}`); NotFound if there is none."""
        return await self.send(calls.get_user(user_id))

    async def update_user(
        self, user_id: str, metadata: Mapping[str, Any] | None = None, purpose: str | None = None
    ) -> models.EndUser:
        """Deep-merge `metadata` (the traits) and set `purpose` (`PATCH /v1/end-users/{id}`)."""
        return await self.send(calls.update_user(user_id, metadata, purpose))

    async def delete(self, user_id: str) -> models.DeleteResponse:
        """Erase the user everywhere (`POST /delete`); `wait_for_job` its `job_id`."""
        return await self.send(calls.delete(user_id))

    async def delete_user(self, user_id: str) -> models.DeleteResponse:
        """The same erasure as `delete`, by `DELETE /v1/end-users/{user_id}`."""
        return await self.send(calls.delete_user(user_id))

    async def footprint(self, user_id: str) -> models.UserFootprint:
        """What is stored of the user, store by store (admin key)."""
        return await self.send(calls.footprint(user_id))

    async def export_user(self, user_id: str, out: IO[bytes]) -> int:
        """Everything held about the user, as NDJSON written to `out` (a binary file) as
        it arrives; returns the number of lines (`GET /v1/end-users/{user_id}/export`)."""
        return await self.send(calls.export_user(user_id, out))

    async def iter_export(self, user_id: str) -> AsyncIterator[dict[str, Any]]:
        """The same export, one record (a dict with its `kind`) at a time."""
        async with self._streamed(calls.export_lines(user_id)) as response:
            async for line in response.aiter_lines():
                if line:
                    yield json.loads(line)

    # Ingestion and jobs

    async def ingest(
        self,
        user_id: str,
        events: Sequence[models.EventIn | Mapping[str, Any]] | None = None,
        documents: Sequence[models.DocumentIn | Mapping[str, Any]] | None = None,
        source: str | None = None,
    ) -> models.IngestResponse:
        """Send events and documents in one request (`POST /ingest`); ids are the caller's."""
        return await self.send(calls.ingest(user_id, events, documents, source))

    async def ingest_many(
        self,
        user_id: str,
        items: Iterable[Item],
        *,
        source: str | None = None,
        batch_size: int = MAX_ITEMS,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> IngestSummary:
        """Send any number of items in requests within the server's limits (`batching`);
        items without ids get stable ones, so a re-run adds nothing twice."""
        pending = deque(plan(user_id, items, source, batch_size, max_bytes))
        summary = IngestSummary()
        while pending:
            batch = pending.popleft()
            try:
                summary.responses.append(await self.send(batch.call()))
            except PayloadTooLarge:
                if len(batch) == 1:
                    raise
                pending.extendleft(reversed(batch.halves()))
        return summary

    async def get_job(self, job_id: str) -> models.JobOut:
        """A job's state, counts, timings and result (`GET /jobs/{job_id}`)."""
        return await self.send(calls.get_job(job_id))

    async def list_jobs(
        self,
        status: models.JobStatus | str | None = None,
        user_id: str | None = None,
        kind: models.JobKind | str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> models.JobList:
        """One page of the organization's jobs, newest first (`GET /jobs`)."""
        return await self.send(calls.list_jobs(status, user_id, kind, cursor, limit))

    async def iter_jobs(
        self,
        status: models.JobStatus | str | None = None,
        user_id: str | None = None,
        kind: models.JobKind | str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[models.JobOut]:
        """Every matching job, newest first, following `next_cursor` page by page."""
        cursor = None
        while True:
            page = await self.list_jobs(status, user_id, kind, cursor, limit)
            for job in page.jobs:
                yield job
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def wait_for_job(
        self,
        job_id: str,
        timeout: float = 120.0,  # noqa: ASYNC109 - the same signature as `Persona.wait_for_job`
    ) -> models.JobOut:
        """The job once it succeeded; JobFailed if it failed, JobTimeout after `timeout` s."""
        job = await self.get_job(job_id)
        for pause in jobs.pauses(timeout):
            if jobs.finished(job):
                break
            await asyncio.sleep(pause)
            job = await self.get_job(job_id)
        return jobs.outcome(job, timeout)

    async def send_webhook(
        self,
        source_id: str,
        secret: str,
        payload: Mapping[str, Any] | bytes,
        webhook_id: str | None = None,
        at: datetime | None = None,
    ) -> models.IngestResponse:
        """Push a producer's payload, signed with the source's secret (no API key used)."""
        return await self.send(calls.send_webhook(source_id, secret, payload, webhook_id, at))

    # Reads

    async def chunks(
        self,
        user_id: str,
        query: str,
        top_k: int | None = None,
        freshness_days: int | None = None,
        sources: list[str] | None = None,
        types: list[str] | None = None,
    ) -> models.ChunksResponse:
        """The user's top-k snippets for `query` (`POST /chunks`)."""
        return await self.send(calls.chunks(user_id, query, top_k, freshness_days, sources, types))

    async def query(
        self,
        user_id: str,
        question: str,
        top_k: int | None = None,
        freshness_days: int | None = None,
    ) -> models.QueryResponse:
        """An answer from the user's memories, with its sources (`POST /query`)."""
        return await self.send(calls.query(user_id, question, top_k, freshness_days))

    async def summary(
        self,
        user_id: str,
        purpose: str | None = None,
        max_chars: int | None = None,
        freshness_days: int | None = None,
    ) -> models.SummaryResponse:
        """A deterministic summary for `purpose` (default `general`) (`GET /summary`)."""
        return await self.send(calls.summary(user_id, purpose, max_chars, freshness_days))

    # Webhook sources and endpoints (admin key)

    async def create_source(
        self, name: str, mapping: Mapping[str, str] | None = None
    ) -> models.SourceSecret:
        """A webhook source; its `secret` is in this answer only."""
        return await self.send(calls.create_source(name, mapping))

    async def list_sources(self) -> models.SourceList:
        return await self.send(calls.list_sources())

    async def rotate_source(self, source_id: str) -> models.SourceSecret:
        """A new secret; the old one verifies for the server's grace period."""
        return await self.send(calls.rotate_source(source_id))

    async def delete_source(self, source_id: str) -> None:
        return await self.send(calls.delete_source(source_id))

    async def create_webhook_endpoint(
        self, url: str, events: list[str], description: str | None = None
    ) -> models.EndpointSecret:
        """Where `events` (e.g. `job.succeeded`) are delivered, signed with `secret`."""
        return await self.send(calls.create_webhook_endpoint(url, events, description))

    async def list_webhook_endpoints(self) -> models.EndpointList:
        return await self.send(calls.list_webhook_endpoints())

    async def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        return await self.send(calls.delete_webhook_endpoint(endpoint_id))

    async def list_deliveries(self, endpoint_id: str) -> models.DeliveryList:
        """The endpoint's recent deliveries, each with its attempts."""
        return await self.send(calls.list_deliveries(endpoint_id))

    async def retry_delivery(self, endpoint_id: str, delivery_id: int) -> None:
        return await self.send(calls.retry_delivery(endpoint_id, delivery_id))

    # Reprocessing (admin key; `operator` beyond the caller's organization)

    async def reindex(
        self,
        model: str | None = None,
        lexical: str | None = None,
        org_id: int | str | None = None,
        user_id: str | None = None,
    ) -> models.ReprocessAccepted:
        """A new index generation, or the given users re-embedded in place."""
        return await self.send(calls.reindex(model, lexical, org_id, user_id))

    async def verify_index(
        self, org_id: int | str | None = None, user_id: str | None = None
    ) -> models.ReprocessAccepted:
        """Compare the index with the chunk rows and repair it (`POST /v1/reindex/verify`)."""
        return await self.send(calls.verify_index(org_id, user_id))

    async def rebuild_summaries(
        self,
        purpose: str | None = None,
        org_id: int | str | None = None,
        user_id: str | None = None,
    ) -> models.ReprocessAccepted:
        return await self.send(calls.rebuild_summaries(purpose, org_id, user_id))

    async def list_generations(self) -> models.GenerationList:
        """The index generations (`operator` key)."""
        return await self.send(calls.list_generations())

"""A load generator that costs the machine it measures next to nothing.

On 2 cores, the bench's own httpx clients on threads took about 3 ms of CPU per
request: at the request rates bench-stream aims for (hundreds a second), the
client alone would take most of a core from the system it measures. Here every
request is encoded before the clock starts, and `clients` keep-alive connections
on one asyncio loop each send one request at a time and read its answer
(HTTP/1.1, Content-Length bodies: what uvicorn sends), for about 0.1 ms a request.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    at: float  # time.time() when the answer was read
    took_s: float  # from the request's first send to its answer, refusals included


def encode(url: str, path: str, body: dict, headers: dict[str, str]) -> bytes:
    """A POST of `body` as JSON, ready to write to a connection to `url`."""
    host = urlsplit(url).netloc
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _client(
    url: str, requests: list[tuple[int, bytes]], answers: list[Answer | None], refused: list[int]
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for index, raw in requests:
            sent = time.perf_counter()
            while True:
                writer.write(raw)
                status, headers, body = await _read(reader)
                if status in (429, 503):  # wait as long as the server asks, and again
                    refused.append(index)
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                    continue
                answers[index] = Answer(status, body, time.time(), time.perf_counter() - sent)
                break
    finally:
        writer.close()


def post_all(
    url: str, path: str, bodies: list[dict], headers: dict[str, str], clients: int
) -> tuple[list[Answer], int]:
    """Each body POSTed once, over `clients` connections at once (body i on connection
    i mod clients, in order, each connection sending its next request once the last
    is answered); the answers in the bodies' order, and how many times a request was
    refused with 429/503 and sent again."""
    encoded = [(i, encode(url, path, body, headers)) for i, body in enumerate(bodies)]
    answers: list[Answer | None] = [None] * len(bodies)
    refused: list[int] = []

    async def run() -> None:
        shares = [encoded[k::clients] for k in range(clients)]
        await asyncio.gather(*(_client(url, share, answers, refused) for share in shares))

    asyncio.run(run())
    done = [a for a in answers if a is not None]
    assert len(done) == len(bodies), "every request answered"
    return done, len(refused)

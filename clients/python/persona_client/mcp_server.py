"""`persona-mcp`: Persona as five tools an agent calls over MCP (`pip install persona-client[mcp]`).

The tools are written for a model, not mapped from the REST routes: `remember`
(store what the user said or did), `recall` (snippets to cite), `ask` (a grounded
answer), `profile` (who the user is, for a purpose) and `forget` (erase the user,
only with `confirm`). Each is one call of `AsyncPersona`; an error answer of the
API becomes a tool error carrying the envelope's code and message, which the
model reads, never a crash of the server.

Configuration is the environment's: `PERSONA_API_KEY` (required, never printed),
`PERSONA_URL` (default http://127.0.0.1:8000), `PERSONA_USER_ID` (the user a tool
call acts on when it names none) and, for the HTTP transport, `PERSONA_MCP_TOKEN`
(the bearer token its clients must send; required on a non-loopback address, where
anyone reaching the port would otherwise act with the API key).
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio
from pydantic import BaseModel, Field, ValidationError

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
except ImportError as missing:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "persona-mcp needs the MCP SDK: pip install 'persona-client[mcp]'"
    ) from missing

from persona_client import models
from persona_client.async_client import AsyncPersona
from persona_client.batching import prepare
from persona_client.errors import JobFailed, JobTimeout, NotFound, PersonaError, RateLimited

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8000"
WAIT_S = 60.0  # how long `remember` and `forget` wait on their job when asked to
INSTRUCTIONS = """\
Persona is the long-term memory of the user you are helping. Call `remember` when the \
user tells you something worth keeping (a preference, a plan, a fact about their life \
or work). Before answering anything that depends on the user's past, call `recall` for \
snippets you can quote, or `ask` for an answer already grounded in them; cite the \
source and time of what you use. Call `profile` at the start of a task to learn who \
the user is. `forget` erases the user entirely and cannot be undone: only on the \
user's explicit request."""


# What the tools return: structured content with an output schema, so a client can
# read fields as well as the model reading the JSON text.


class Memory(BaseModel):
    text: str = Field(description="The remembered text, or a passage of it.")
    score: float = Field(description="Relevance to the query; higher is closer.")
    source: str = Field(description="Where it came from (gmail, calendar, mcp, ...).")
    type: str = Field(description="What it was (email, note, message, document, ...).")
    timestamp: datetime | None = Field(description="When it was said or happened.")
    id: str | None = Field(description="The event or document id, for citing.")


class Remembered(BaseModel):
    user_id: str
    event_id: str = Field(description="The id the memory is stored under.")
    new: bool = Field(description="False when the same memory was already stored.")
    job_id: str = Field(description="The indexing job.")
    searchable: bool = Field(
        description="True once recall can find it; false while it is still being indexed."
    )


class Recalled(BaseModel):
    user_id: str
    memories: list[Memory] = Field(description="Best first; empty when nothing matches.")


class Answer(BaseModel):
    user_id: str
    answer: str
    sources: list[Memory] = Field(description="The memories the answer draws on.")


class Profile(BaseModel):
    user_id: str
    purpose: str
    summary: str
    generated_at: str = Field(description="When the summary was written (ISO 8601, UTC).")


class Forgotten(BaseModel):
    user_id: str
    job_id: str = Field(description="The erasure job.")
    erased: bool = Field(description="True once everything is gone; false while it runs.")


def memory(chunk: models.ChunkOut) -> Memory:
    return Memory(
        text=chunk.text,
        score=chunk.score,
        source=chunk.source,
        type=chunk.type,
        timestamp=chunk.timestamp,
        id=chunk.event_id or chunk.document_id,
    )


def tool_error(error: PersonaError | ValidationError) -> ToolError:
    """The error as the model should read it: the envelope's code and message, and what
    to do about it where that is not obvious."""
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
        )
        return ToolError(f"INVALID_ARGUMENT: {problems}")
    code = error.code or ("UNREACHABLE" if error.status is None else f"HTTP_{error.status}")
    text = f"{code}: {error.message}"
    if isinstance(error, NotFound) and error.code == "USER_NOT_FOUND":
        text += " (nothing is stored for this user: never seen, or forgotten)"
    elif isinstance(error, RateLimited) and error.retry_after_s is not None:
        text += f" (retry in {error.retry_after_s:g} s)"
    if error.request_id:
        text += f" [request {error.request_id}]"
    return ToolError(text)


UserId = Annotated[
    str | None,
    Field(
        description="Whose memory. Leave it out to use the configured user (PERSONA_USER_ID).",
        max_length=256,
    ),
]


@dataclass
class Tools:
    """The five tools, on one client of the API."""

    persona: AsyncPersona
    default_user: str | None = None

    def user(self, given: str | None) -> str:
        user_id = given or self.default_user
        if not user_id:
            raise ToolError("No user_id given, and no PERSONA_USER_ID is configured: pass user_id.")
        return user_id

    async def call(self, request: Awaitable[T]) -> T:
        try:
            return await request
        except (PersonaError, ValidationError) as error:
            raise tool_error(error) from error

    async def remember(
        self,
        content: Annotated[
            str, Field(description="What to remember, in the user's words or a faithful note.")
        ],
        user_id: UserId = None,
        type: Annotated[
            str, Field(description="What it is: note, message, email, preference, ...")
        ] = "note",
        source: Annotated[
            str, Field(description="Where it came from: the app or channel.")
        ] = "mcp",
        timestamp: Annotated[
            datetime | None,
            Field(description="When it was said or happened (ISO 8601 with zone); default now."),
        ] = None,
        wait: Annotated[
            bool,
            Field(description="Wait until recall can find it (up to a minute) before returning."),
        ] = False,
    ) -> Remembered:
        """Store something the user said, did or decided, in their long-term memory.

        Call it when the user shares a fact, a preference, a plan or a change worth
        knowing later ("I'm vegetarian", "the launch moved to May"). Store one fact or
        message per call, as said. Storing the same content at the same time twice is
        harmless. Returns the stored id and whether it is searchable yet: indexing takes
        a moment, so pass wait=true when you will recall it right away."""
        who = self.user(user_id)
        at = timestamp or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        try:
            item = prepare({"type": type, "timestamp": at, "content": content})
        except ValidationError as error:
            raise tool_error(error) from error
        event = {"event_id": item.item_id, "type": type, "timestamp": at, "content": content}
        accepted = await self.call(self.persona.ingest(who, events=[event], source=source))
        searchable = False
        if wait:
            try:
                await self.call(self.persona.wait_for_job(accepted.job_id, timeout=WAIT_S))
                searchable = True
            except JobTimeout:
                pass
            except JobFailed as failed:
                raise ToolError(
                    f"INDEXING_FAILED: {failed.job.error or 'the job failed'}"
                ) from failed
        return Remembered(
            user_id=who,
            event_id=item.item_id,
            new=accepted.ingested.events > 0,
            job_id=accepted.job_id,
            searchable=searchable,
        )

    async def recall(
        self,
        query: Annotated[str, Field(description="What to look for, as a question or keywords.")],
        user_id: UserId = None,
        top_k: Annotated[int, Field(ge=1, le=100, description="How many memories.")] = 5,
        freshness_days: Annotated[
            int | None, Field(ge=1, description="Only memories from the last N days.")
        ] = None,
        sources: Annotated[
            list[str] | None, Field(description="Only these sources (e.g. gmail, calendar).")
        ] = None,
        types: Annotated[
            list[str] | None, Field(description="Only these types (e.g. email, note).")
        ] = None,
    ) -> Recalled:
        """Find the user's memories most relevant to a query: the raw snippets, best first,
        each with its source, type, time and id.

        Call it before answering anything that depends on what the user said or did
        before, and quote or cite what you use (source and time). Prefer it over `ask`
        when you want the evidence itself. An empty list means nothing relevant is stored."""
        found = await self.call(
            self.persona.chunks(self.user(user_id), query, top_k, freshness_days, sources, types)
        )
        return Recalled(user_id=found.user_id, memories=[memory(c) for c in found.chunks])

    async def ask(
        self,
        question: Annotated[str, Field(description="A question about the user.")],
        user_id: UserId = None,
        top_k: Annotated[
            int, Field(ge=1, le=20, description="How many memories the answer may draw on.")
        ] = 5,
        freshness_days: Annotated[
            int | None, Field(ge=1, description="Only memories from the last N days.")
        ] = None,
    ) -> Answer:
        """Answer a question about the user from their memories, with the sources it rests on.

        Call it for a direct question ("When is my dentist appointment?", "Which seat do
        I prefer?"). The answer uses only what is stored; check it against its sources,
        and say so when they do not support it."""
        reply = await self.call(
            self.persona.query(self.user(user_id), question, top_k, freshness_days)
        )
        return Answer(
            user_id=reply.user_id, answer=reply.answer, sources=[memory(c) for c in reply.sources]
        )

    async def profile(
        self,
        user_id: UserId = None,
        purpose: Annotated[
            str | None,
            Field(
                description="What the summary is for (e.g. work-style, travel); default general."
            ),
        ] = None,
        max_chars: Annotated[
            int | None, Field(ge=1, description="Longest summary wanted, in characters.")
        ] = None,
    ) -> Profile:
        """A short summary of who the user is, for a purpose: their preferences, habits and
        current context.

        Call it at the start of a conversation or task to personalize what you do, then
        `recall` for specifics."""
        text = await self.call(self.persona.summary(self.user(user_id), purpose, max_chars))
        return Profile(
            user_id=text.user_id,
            purpose=text.purpose,
            summary=text.summary,
            generated_at=text.generated_at,
        )

    async def forget(
        self,
        confirm: Annotated[
            bool,
            Field(description="Must be true: you confirm the user asked to erase everything."),
        ],
        user_id: UserId = None,
    ) -> Forgotten:
        """Permanently erase the user and everything stored about them: every memory,
        document and summary. It cannot be undone.

        Call it only when the user explicitly asks to be forgotten or to delete their
        data, never to tidy up or correct one memory. Set confirm=true to proceed.
        Returns once the erasure is done (or still running, if it takes over a minute)."""
        if not confirm:
            raise ToolError(
                "Not erased: forget deletes everything about the user for good. Call it again "
                "with confirm=true only if the user explicitly asked for that."
            )
        erasure = await self.call(self.persona.delete(self.user(user_id)))
        try:
            await self.call(self.persona.wait_for_job(erasure.job_id, timeout=WAIT_S))
        except JobTimeout:
            return Forgotten(user_id=erasure.user_id, job_id=erasure.job_id, erased=False)
        except JobFailed as failed:
            raise ToolError(f"ERASURE_FAILED: {failed.job.error or 'the job failed'}") from failed
        return Forgotten(user_id=erasure.user_id, job_id=erasure.job_id, erased=True)


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_server(persona: AsyncPersona, default_user: str | None = None) -> MCPServer:
    """The MCP server of Persona's five tools, calling the API with `persona`."""
    tools = Tools(persona, default_user)
    server: MCPServer = MCPServer("persona", instructions=INSTRUCTIONS, log_level="WARNING")
    annotated: list[tuple[Callable[..., Any], str, ToolAnnotations]] = [
        (
            tools.remember,
            "Remember",
            ToolAnnotations(
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=False,
            ),
        ),
        (tools.recall, "Recall memories", READ_ONLY),
        (tools.ask, "Ask about the user", READ_ONLY),
        (tools.profile, "User profile", READ_ONLY),
        (
            tools.forget,
            "Forget the user (erase all)",
            ToolAnnotations(
                read_only_hint=False,
                destructive_hint=True,
                idempotent_hint=True,
                open_world_hint=False,
            ),
        ),
    ]
    for fn, title, hints in annotated:
        server.add_tool(fn, title=title, annotations=hints.model_copy(update={"title": title}))
    return server


# Running it: stdio for a client that spawns the server, streamable HTTP for one that
# connects to it.

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def require_token(app: ASGI, token: str) -> ASGI:
    """`app`, answering 401 to an HTTP request without `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def serve(args: argparse.Namespace, env: MutableMapping[str, str]) -> None:
    async with AsyncPersona(env.get("PERSONA_URL", DEFAULT_URL), env["PERSONA_API_KEY"]) as client:
        server = build_server(client, env.get("PERSONA_USER_ID") or None)
        if args.transport == "stdio":
            await server.run_stdio_async()
            return
        import uvicorn

        app: ASGI = server.streamable_http_app(host=args.host, streamable_http_path=args.path)
        if token := env.get("PERSONA_MCP_TOKEN"):
            app = require_token(app, token)
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
        print(
            f"persona-mcp: streamable HTTP on http://{args.host}:{args.port}{args.path}",
            file=sys.stderr,
        )
        await uvicorn.Server(config).serve()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="persona-mcp",
        description="Persona's MCP server (remember, recall, ask, profile, forget). "
        "Environment: PERSONA_API_KEY (required), PERSONA_URL, PERSONA_USER_ID, "
        "PERSONA_MCP_TOKEN (HTTP).",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP only (default 8765)")
    parser.add_argument("--path", default="/mcp", help="HTTP only: the endpoint (default /mcp)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    env = os.environ
    if not env.get("PERSONA_API_KEY"):
        sys.exit("persona-mcp: set PERSONA_API_KEY to a Persona API key (read_write scope).")
    if args.transport == "http" and not is_loopback(args.host) and not env.get("PERSONA_MCP_TOKEN"):
        sys.exit(
            f"persona-mcp: refusing to serve on {args.host} without PERSONA_MCP_TOKEN: anyone "
            "reaching the port would act with your API key. Set it, or use 127.0.0.1."
        )
    anyio.run(serve, args, env)


if __name__ == "__main__":
    main()

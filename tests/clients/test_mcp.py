"""`persona-mcp` against the running system, through the official `mcp` client library:
the server spawned over stdio and started over streamable HTTP, each driven through
remember → recall → ask → profile → forget on a user of its own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from persona_client import AsyncPersona
from persona_client.mcp_server import build_server

from pipeline.local.embedded.process import free_port
from tests.conftest import ChildProcess, Tenant, wait_ready
from tests.helpers import FACTS, START

PERSONA_MCP = str(Path(sys.executable).with_name("persona-mcp"))
TOOLS = {"remember", "recall", "ask", "profile", "forget"}


def new_user() -> str:
    return f"mcp-{uuid.uuid4().hex[:10]}"


def text(result: CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, TextContent)
    return content.text


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    # the model reads the text: the same JSON as the structured content
    assert json.loads(text(result)) == result.structured_content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return text(result)


async def tools_are_described(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    hints = {}
    for name, tool in tools.items():
        assert len(tool.description or "") > 80
        assert tool.annotations is not None
        assert tool.annotations.title
        assert tool.output_schema is not None
        hints[name] = (tool.annotations.read_only_hint, tool.annotations.destructive_hint)
    assert hints == {
        "remember": (False, False),
        "recall": (True, None),
        "ask": (True, None),
        "profile": (True, None),
        "forget": (False, True),
    }
    assert tools["forget"].input_schema["required"] == ["confirm"]
    assert "query" in tools["recall"].input_schema["required"]


async def main_path(client: Client, user_id: str) -> None:
    """Everything an agent does with the tools, on `user_id`, checked as it goes."""
    await tools_are_described(client)
    remembered = []
    for i, fact in enumerate(FACTS):
        at = (START + timedelta(days=i)).isoformat()
        args = {"content": fact, "user_id": user_id, "timestamp": at, "type": "message"}
        remembered.append(structured(await client.call_tool("remember", {**args, "wait": True})))
    assert all(r["new"] and r["searchable"] for r in remembered)
    dentist = remembered[2]["event_id"]
    again = structured(await client.call_tool("remember", {**args, "source": "mcp"}))
    assert (again["event_id"], again["new"]) == (remembered[-1]["event_id"], False)

    found = structured(
        await client.call_tool("recall", {"query": "When is the dentist?", "user_id": user_id})
    )
    assert dentist in [m["id"] for m in found["memories"]]
    hit = next(m for m in found["memories"] if m["id"] == dentist)
    assert (hit["source"], hit["type"]) == ("mcp", "message")
    assert hit["timestamp"].startswith((START + timedelta(days=2)).date().isoformat())

    reply = structured(
        await client.call_tool("ask", {"question": "Which seat do I prefer?", "user_id": user_id})
    )
    assert reply["answer"]
    assert any("window" in s["text"] for s in reply["sources"])

    profile = structured(await client.call_tool("profile", {"user_id": user_id, "max_chars": 300}))
    assert profile["purpose"] == "general"
    assert len(profile["summary"]) <= 300

    refused = await client.call_tool("forget", {"confirm": False, "user_id": user_id})
    assert "confirm=true" in error_text(refused)
    still = await client.call_tool("recall", {"query": "dentist", "user_id": user_id})
    assert structured(still)["memories"]

    gone = structured(await client.call_tool("forget", {"confirm": True, "user_id": user_id}))
    assert gone == {"user_id": user_id, "job_id": gone["job_id"], "erased": True}
    after = await client.call_tool("recall", {"query": "dentist", "user_id": user_id})
    assert error_text(after).count("USER_NOT_FOUND") == 1


def test_over_stdio(gateway: str, worker, tenant: Tenant) -> None:
    user_id = new_user()
    env = {"PERSONA_URL": gateway, "PERSONA_API_KEY": tenant.key, "PERSONA_USER_ID": user_id}
    server = StdioServerParameters(command=PERSONA_MCP, env=env)

    async def run() -> None:
        async with Client(server, read_timeout_seconds=120) as client:
            await main_path(client, user_id)
            # PERSONA_USER_ID is the user of a call that names none
            default = await client.call_tool("profile", {})
            assert "USER_NOT_FOUND" in error_text(default)

    asyncio.run(run())


@pytest.fixture
def http_server(gateway: str, tenant: Tenant, tmp_path: Path):
    """`persona-mcp --transport http` on a free port, with a bearer token of its own."""
    port, token = free_port(), uuid.uuid4().hex
    env = {
        **os.environ,
        "PERSONA_URL": gateway,
        "PERSONA_API_KEY": tenant.key,
        "PERSONA_MCP_TOKEN": token,
    }
    argv = [PERSONA_MCP, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    child = ChildProcess("persona-mcp", argv, env, tmp_path / "persona-mcp.log")
    url = f"http://127.0.0.1:{port}/mcp"

    def refuses_without_token() -> bool:
        try:
            return httpx.post(url, json={}, timeout=1.0).status_code == 401
        except httpx.HTTPError:
            return False

    wait_ready(child, refuses_without_token)
    yield url, token
    child.stop()
    assert tenant.key not in child.output()


def test_over_streamable_http(http_server: tuple[str, str], worker) -> None:
    url, token = http_server

    async def run() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            await main_path(client, new_user())

    asyncio.run(run())


def test_api_errors_are_tool_errors_not_crashes(gateway: str) -> None:
    async def run() -> None:
        async with (
            AsyncPersona(gateway, "pk_not_a_key_of_anyone") as persona,
            Client(build_server(persona)) as client,
        ):
            unknown = await client.call_tool("recall", {"query": "x", "user_id": "u1"})
            assert error_text(unknown).startswith("Error executing tool recall: UNAUTHORIZED")
            nobody = await client.call_tool("ask", {"question": "Where do I live?"})
            assert "PERSONA_USER_ID" in error_text(nobody)
            bad = await client.call_tool("recall", {"query": "x", "user_id": "u1", "top_k": 0})
            assert bad.is_error
            # the server still answers after each
            assert len((await client.list_tools()).tools) == len(TOOLS)

    asyncio.run(run())


def test_it_refuses_to_start_without_a_key_or_an_open_port_without_a_token() -> None:
    bare = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    no_key = subprocess.run([PERSONA_MCP], env=bare, capture_output=True, text=True, timeout=60)
    assert no_key.returncode != 0
    assert "PERSONA_API_KEY" in no_key.stderr

    secret = f"pk_{uuid.uuid4().hex}"
    argv = [PERSONA_MCP, "--transport", "http", "--host", "0.0.0.0"]  # noqa: S104 - refused
    env = bare | {"PERSONA_API_KEY": secret}
    open_port = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert open_port.returncode != 0
    assert "PERSONA_MCP_TOKEN" in open_port.stderr
    assert secret not in open_port.stderr + open_port.stdout

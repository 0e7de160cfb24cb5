"""`persona-client` is a distribution of its own: it depends on httpx and pydantic only,
and loading it loads nothing of the server (no pipeline, Celery, model or vector store).
The import-linter contract in pyproject.toml holds the same statically."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata

from tests.helpers import ROOT

ALLOWED = {"httpx", "pydantic"}
SERVER = (
    "pipeline",
    "workers",
    "api_gateway",
    "celery",
    "kombu",
    "fastembed",
    "onnxruntime",
    "qdrant_client",
    "qdrant_edge",
    "sqlalchemy",
    "redis",
)


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in requirements}


def test_required_dependencies_are_httpx_and_pydantic_only() -> None:
    project = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())["project"]
    assert project["name"] == "persona-client"
    assert names(project["dependencies"]) == ALLOWED
    # extras (`[mcp]`: the MCP server) are the caller's choice, never installed by default
    required = [r for r in metadata.requires("persona-client") or [] if "extra ==" not in r]
    assert names(required) == ALLOWED


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    code = (
        "import sys, persona_client; persona_client.Persona; persona_client.AsyncPersona; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

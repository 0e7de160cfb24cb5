"""The layering the design promises, checked statically and at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("fastembed", "onnxruntime", "onnx", "qdrant_client", "qdrant_edge", "tokenizers", "numpy")


def test_import_contracts_hold() -> None:
    """import-linter: the gateway imports no ML or vector store; pipeline no HTTP or Celery."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_loading_the_gateway_loads_no_ml() -> None:
    """What the gateway process really loads, which static analysis may miss (plugins)."""
    code = (
        "import sys, api_gateway.main; api_gateway.main.create_app; "
        f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

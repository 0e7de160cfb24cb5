"""The SDK's committed models are what the OpenAPI document generates now: a change to a
wire model without `make sdk` fails here, with the difference."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_committed_models_match_a_fresh_generation() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "clients/python/generate.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

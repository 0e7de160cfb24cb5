"""Without a built model and without a reachable hub, the error says what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_missing_model_offline_says_make_model(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from pipeline.embedding import Embedder; "
        f"Embedder(Path({str(tmp_path / 'empty')!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode != 0
    assert "make model" in result.stderr

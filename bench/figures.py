"""How benchmarks reduce what they timed to the figures they print."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The `q`th percentile (0-100) as the nearest value at or above it; nan for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")

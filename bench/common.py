"""Shared by the benchmarks: latency percentiles and one printed row per measured system."""

from __future__ import annotations

import statistics


def report(name: str, rps: float, latencies: list[float], unit: str = "calls/s") -> dict[str, float]:
    """Print ``name``'s throughput and p50/p99 latency; return them (ms) for the ratios."""
    q = statistics.quantiles(latencies, n=100)
    row = {"rps": rps, "p50": q[49] * 1000, "p99": q[98] * 1000}
    print(f"{name:<16} {rps:8.0f} {unit}   p50 {row['p50']:7.2f} ms   p99 {row['p99']:7.2f} ms")  # noqa: T201
    return row

"""``make bench``: run each benchmark in turn (its output as it goes), then one summary table of
the ``ratio <name>=<measured> goal=<goal>`` line each ended with.

    .venv/bin/python -m bench.summary kit_rpc_overhead otp read_path membership queue

A benchmark may print more ratio lines before its last (e.g. ``/healthz`` beside the read path,
the rush through the gateway beside the gRPC rush). A ``…_floor`` ratio is the same load against a
bare server on the same dependencies (grpc.aio, FastAPI, Redis, Postgres) held to the path's goal:
a floor below its goal says the goal is out of reach with those dependencies on this machine.

A ratio whose name contains ``_vs_`` is a cost (lower is better: met when at most its goal); the
others are throughput shares (met when at least the goal). Exits non-zero if a benchmark failed
or printed no ratio line, not when a goal is missed (the table says which).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

RATIO = re.compile(r"^ratio (\S+)=([\d.]+) goal=([\d.]+)\s*$")


def lower_is_better(name: str) -> bool:
    return "_vs_" in name


def met(name: str, measured: float, goal: float) -> bool:
    return measured <= goal if lower_is_better(name) else measured >= goal


def run(module: str) -> tuple[list[tuple[str, float, float]], int, float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", f"bench.{module}"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    found = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        if (match := RATIO.match(line)) is not None:
            found.append((match.group(1), float(match.group(2)), float(match.group(3))))
    return found, process.wait(), time.monotonic() - started


def main(modules: list[str]) -> int:
    rows, failed = [], []
    for module in modules:
        print(f"== bench.{module}", flush=True)  # noqa: T201
        found, code, elapsed = run(module)
        if code != 0 or not found:
            failed.append(f"bench.{module} (exit {code}{'' if found else ', no ratio line'})")
        rows += [(module, name, measured, goal, elapsed) for name, measured, goal in found]
    print("\n| benchmark | ratio | measured | goal | met | took |")  # noqa: T201
    print("| --- | --- | --- | --- | --- | --- |")  # noqa: T201
    for module, name, measured, goal, elapsed in rows:
        sign = "≤" if lower_is_better(name) else "≥"
        print(f"| bench.{module} | {name} | {measured:.2f} | {sign} {goal:.2f} | "  # noqa: T201
              f"{'yes' if met(name, measured, goal) else 'NO'} | {elapsed:.0f} s |")
    for failure in failed:
        print(f"failed: {failure}")  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["kit_rpc_overhead", "otp", "read_path", "membership", "queue"]))

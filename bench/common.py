"""Shared by the benchmarks: latency percentiles, one printed row per measured system, the CPU
each process spent, `wrk` as the HTTP load generator, and the closing ``ratio`` line.

Every benchmark ends with ``ratio <name>=<measured> goal=<goal>`` (parsed by ``make bench``'s
summary, `bench.summary`).
"""

from __future__ import annotations

import re
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def report(name: str, rps: float, latencies: list[float], unit: str = "calls/s") -> dict[str, float]:
    """Print ``name``'s throughput and p50/p99 latency; return them (ms) for the ratios."""
    q = statistics.quantiles(latencies, n=100)
    row = {"rps": rps, "p50": q[49] * 1000, "p99": q[98] * 1000}
    print(f"{name:<16} {rps:8.0f} {unit}   p50 {row['p50']:7.2f} ms   p99 {row['p99']:7.2f} ms")  # noqa: T201
    return row


def ratio_line(name: str, measured: float, goal: float) -> str:
    """The benchmark's last line: the measured ratio against its goal."""
    line = f"ratio {name}={measured:.2f} goal={goal:.2f}"
    print(line)  # noqa: T201
    return line


# --- CPU per process ------------------------------------------------------------------------------


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


@dataclass
class CpuMeter:
    """CPU seconds spent by named groups of processes over a measured stretch.

    ``groups`` maps a name to pids; each group counts its processes and their children
    (Postgres' backends, uvicorn's workers), as found when the stretch starts.
    """

    groups: dict[str, Iterable[int]]
    spent: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def _processes(self) -> dict[str, list[psutil.Process]]:
        found: dict[str, list[psutil.Process]] = {}
        for name, pids in self.groups.items():
            members: list[psutil.Process] = []
            for pid in pids:
                try:
                    root = psutil.Process(pid)
                    members += [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
            found[name] = members
        return found

    @contextmanager
    def measure(self) -> Iterator[CpuMeter]:
        processes = self._processes()
        before = {name: {p.pid: _cpu_seconds(p) for p in members} for name, members in processes.items()}
        started = time.perf_counter()
        try:
            yield self
        finally:
            self.elapsed_s = time.perf_counter() - started
            self.spent = {name: sum(max(0.0, _cpu_seconds(p) - before[name].get(p.pid, 0.0)) for p in members)
                          for name, members in processes.items()}

    def share(self, name: str) -> float:
        """The group's CPU as a share of one core over the stretch (1.0 = one core busy)."""
        return self.spent.get(name, 0.0) / self.elapsed_s if self.elapsed_s else 0.0

    def print_per_request(self, requests: int) -> None:
        """One line per group: its share of a core and its CPU milliseconds per request."""
        for name in self.groups:
            spent = self.spent.get(name, 0.0)
            print(f"  cpu {name:<12} {self.share(name):5.2f} cores   "  # noqa: T201
                  f"{1000 * spent / max(1, requests):7.3f} ms/request")


# --- wrk ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    client_cpu_share: float
    output: str

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: run 'make bench-deps' (Debian package wrk)")
    return found


def wrk(url: str, *, duration_s: int = 8, connections: int = 32, threads: int = 1,
        headers: dict[str, str] | None = None, lua: str | None = None, timeout_s: int = 10) -> WrkResult:
    """Run wrk against ``url`` (optionally with a Lua script's text) and parse what it printed."""
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", f"--timeout={timeout_s}s",
               "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as folder:
        if lua is not None:
            script = Path(folder) / "script.lua"
            script.write_text(lua)
            command += ["-s", str(script)]
        command.append(url)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        elapsed = time.perf_counter() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = process.stdout
        client_cpu = (children_after.ru_utime - children_before.ru_utime
                      + children_after.ru_stime - children_before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)) else 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in socket.groups()) if socket else 0
    return WrkResult(requests=requests, rps=rps, p50_ms=p50, p99_ms=p99, non_2xx=non_2xx,
                     socket_errors=socket_errors, client_cpu_share=client_cpu / elapsed if elapsed else 0.0,
                     output=output)


def print_wrk(name: str, result: WrkResult) -> None:
    print(f"{name:<28} {result.rps:8.0f} req/s   p50 {result.p50_ms:7.2f} ms   p99 {result.p99_ms:7.2f} ms"  # noqa: T201
          f"   errors {result.errors}   wrk cpu {result.client_cpu_share:4.2f} cores")


def stack_pids(stack) -> dict[str, int]:
    """The pid of each process of a `services.devstack.launch.Stack` (Postgres: the postmaster;
    its backends are children, counted with it by `CpuMeter`)."""
    found: dict[str, int] = {}
    for process in psutil.Process(stack.process.pid).children(recursive=True):
        try:
            cmdline = " ".join(process.cmdline())
            parent = process.parent()
        except psutil.Error:
            continue
        for name in ("queue", "membership", "gateway", "auth", "notify"):
            if f"-m services.{name}" in cmdline:
                found[name] = process.pid
        if process.name() == "postgres" and parent is not None and parent.name() != "postgres":
            found["postgres"] = process.pid
        if "redis-server" in cmdline:
            found["redis"] = process.pid
    return found


# --- a rush through wrk: every request on its own connection, all sent at once ----------------------

#: One thread, one connection per request: each connection sends its request at once (``delay`` 0 for the
#: first ``n`` sends), then waits (``delay`` of an hour) until the driver stops wrk; ``response`` counts the
#: answers by status and says so on stdout once all are in, so the driver stops wrk at that moment.
RUSH_LUA = """
local raw = {%(requests)s}
local n = #raw
local formatted = {}
for k, r in ipairs(raw) do
  formatted[k] = wrk.format("%(method)s", "%(path)s", {["Authorization"] = "Bearer " .. r[1],
                            ["Content-Type"] = "application/json"}, r[2])
end
local scheduled, sent, answered = 0, 0, 0
local statuses = {}
delay = function()
  scheduled = scheduled + 1
  if scheduled <= n then return 0 end
  return 3600000
end
request = function()
  sent = sent + 1
  return formatted[math.min(sent, n)]
end
response = function(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if answered == n then
    local parts = {}
    for code, count in pairs(statuses) do parts[#parts + 1] = code .. "=" .. count end
    io.write("rush answered " .. table.concat(parts, " ") .. "\\n")
    io.flush()
  end
end
"""


@dataclass(frozen=True)
class RushResult:
    attempts: int
    elapsed_s: float
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    socket_errors: int
    client_cpu_s: float
    output: str

    @property
    def rps(self) -> float:
        return self.attempts / self.elapsed_s if self.elapsed_s else 0.0


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_rush(base_url: str, path: str, requests: list[tuple[str, str]], *, method: str = "POST",
             timeout_s: int = 60) -> RushResult:
    """``requests`` (bearer token, JSON body) all at once, each on its own keep-alive connection from
    one wrk thread: the latency of each is from the moment the rush began, as for people pressing
    the button together. Ends when every request is answered (or after ``timeout_s``)."""
    table = ", ".join(f"{{{_lua_string(token)}, {_lua_string(body)}}}" for token, body in requests)
    script_text = RUSH_LUA % {"requests": table, "method": method, "path": path}
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "rush.lua"
        script.write_text(script_text)
        command = [require_wrk(), "-t1", f"-c{len(requests)}", f"-d{timeout_s + 5}s", f"--timeout={timeout_s}s",
                   "--latency", "-s", str(script), base_url]
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        lines: list[str] = []
        answered_at: float | None = None
        statuses: dict[int, int] = {}
        for line in process.stdout:
            lines.append(line)
            if line.startswith("rush answered") and answered_at is None:
                answered_at = time.perf_counter()
                statuses = {int(code): int(count) for code, count in
                            (part.split("=") for part in line.split()[2:])}
                process.send_signal(signal.SIGINT)
        process.wait()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = "".join(lines)
    if answered_at is None:
        answered_at = time.perf_counter()
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    return RushResult(
        attempts=len(requests), elapsed_s=answered_at - started, statuses=statuses,
        p50_ms=_ms(p50.group(1)) if p50 else 0.0, p99_ms=_ms(p99.group(1)) if p99 else 0.0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        client_cpu_s=(children_after.ru_utime - children_before.ru_utime
                      + children_after.ru_stime - children_before.ru_stime),
        output=output)

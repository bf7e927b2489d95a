"""Bulk loading and partner eligibility at national scale: does ``CheckEligibility`` stay as fast
at 10 M participants as at 1 M?

Starts its own Postgres on a free port (ephemeral: no fsync), migrates, seeds the demo data,
then loads each size in ``--participants`` into a database of its own, from nothing
(``services.membership.bulk.load_to``; it prints the load time, rows/s and its phases), serves
each database with its own membership (in this process, with a Redis of its own) and asks
``PartnerMembershipService/CheckEligibility`` (signed like a hospital) for participants drawn at
random from the whole table, half by NOKA, half by NIK, from ``--clients`` client processes, in
``--rounds`` rounds that alternate between the sizes (1 M, 10 M, 1 M, 10 M, …; each round new
participants), so whatever the shared machine does drifts for both sizes alike. A bare
``grpc.aio`` server answering the same RPC with an empty message is the context (measured once,
same clients and concurrency). Per size: throughput, p50/p99, errors, the CPU spent by
membership, by the clients, by Postgres' backends and by its background processes (checkpointer,
writers), and per call Postgres' shared-buffer hits and reads (pages from outside its buffers),
the pages its backends wrote to evict dirty buffers, WAL, and the checkpoints that ran; the p99
of every round. Ends with one line::

    ratio eligibility_p99_10m_vs_1m=<median over rounds of p99 at the last size / p99 at the first> goal=1.20

lower is better (the p99 may grow by at most 20 % from the first size to the last); and
``ratio load_10m_s_vs_180`` (the largest size loaded from nothing, against 3 minutes).

    .venv/bin/python -m bench.membership [--participants 1000000,10000000] [--calls 8000]
                                         [--concurrency 16] [--workers 2] [--clients 2] [--rounds 5]

``--participants`` sizes, comma separated (default 1 M then 10 M: about 4 min with the load);
``--calls`` eligibility calls per round; ``--concurrency`` calls in flight; ``--workers`` loader
connections. Run it under the shared lock: ``flock /tmp/bench.lock .venv/bin/python -m bench.membership``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import asyncpg
import grpc
import psutil

from bench.common import CpuMeter, ratio_line, report
from jkn.membership.v1 import partner_pb2, partner_pb2_grpc
from services.devstack import infra
from services.kit import db
from services.kit.clock import jakarta_today
from services.kit.partner_auth import signed_metadata
from services.kit.runtime import run_service
from services.kit.seed import seed_once
from services.membership import bulk
from services.membership.app import MIGRATIONS, build
from services.membership.seed import seed_demo
from services.membership.settings import MembershipSettings

GOAL = 1.2
LOAD_GOAL_S = 180.0  # the load from nothing to the last size (all sizes' loads together)
# The bench's own Postgres, sized for a 10 M load (the defaults: 128 MB of shared buffers, a
# checkpoint every GB of WAL, 64 MB of maintenance memory), still small next to the machine; no
# autovacuum, which would scan the tables in the middle of a load (the loader vacuums them after).
PG_SETTINGS = {"shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min",
               "maintenance_work_mem": "512MB", "autovacuum": "off"}


class Echo(partner_pb2_grpc.PartnerMembershipServiceServicer):
    async def CheckEligibility(self, request, context):
        return partner_pb2.CheckEligibilityResponse()


async def run(stub, requests: list, concurrency: int) -> tuple[float, list[float], int]:
    """Calls/s, latencies (s) and errors of ``requests`` sent ``concurrency`` at a time."""
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)

    async def worker() -> None:
        nonlocal errors
        for request in queue:
            metadata = signed_metadata("dev-secret-0114R001", "0114R001")
            started = time.perf_counter()
            try:
                await stub.CheckEligibility(request, metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


def _client_job(address: str, payloads: list[bytes], concurrency: int) -> tuple[list[float], int, float]:
    """A client process's share: its requests over its own channel; (latencies, errors, seconds)."""

    async def go() -> tuple[list[float], int, float]:
        requests = [partner_pb2.CheckEligibilityRequest.FromString(b) for b in payloads]
        async with grpc.aio.insecure_channel(address) as channel:
            stub = partner_pb2_grpc.PartnerMembershipServiceStub(channel)
            await channel.channel_ready()
            started = time.perf_counter()
            _, latencies, errors = await run(stub, requests, concurrency)
            return latencies, errors, time.perf_counter() - started

    return asyncio.run(go())


async def run_clients(pool: ProcessPoolExecutor, address: str, requests: list, concurrency: int
                      ) -> tuple[float, list[float], int]:
    """`run` from the client processes of ``pool`` (each a share of the requests and of the
    concurrency), so the client does not share the server's process: calls/s, latencies, errors."""
    shares = pool._max_workers  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(*(
        loop.run_in_executor(pool, _client_job, address, [r.SerializeToString() for r in requests[i::shares]],
                             max(1, concurrency // shares))
        for i in range(shares)))
    latencies = [latency for share, _, _ in results for latency in share]
    errors = sum(e for _, e, _ in results)
    return len(latencies) / max(seconds for _, _, seconds in results), latencies, errors


# What Postgres did over a measured stretch, per call: shared-buffer hits and reads (a read is a
# page that was not in shared buffers: from the OS page cache or the disk), pages written by the
# backends themselves (to evict a dirty buffer), WAL, and the checkpoints that completed.
_COUNTERS = """
SELECT (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()) AS hits,
       (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS reads,
       (SELECT coalesce(sum(writes), 0) FROM pg_stat_io WHERE backend_type = 'client backend') AS backend_writes,
       (SELECT wal_bytes FROM pg_stat_wal) AS wal_bytes,
       (SELECT buffers_written FROM pg_stat_checkpointer) AS checkpoint_writes,
       (SELECT num_timed + num_requested FROM pg_stat_checkpointer) AS checkpoints
"""


async def pg_counters(dsn: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return {k: float(v) for k, v in (await conn.fetchrow(_COUNTERS)).items()}
    finally:
        await conn.close()


def postgres_groups(pg_pid: int) -> dict[str, list[int]]:
    """Postgres' client backends apart from its background processes (checkpointer, background
    writer, WAL writer...): the eligibility calls' own cost against the load's aftermath."""
    backends: list[int] = []
    background: list[int] = []  # not the postmaster: a group counts its pids' children too
    for child in psutil.Process(pg_pid).children():
        try:
            (backends if "postgres: postgres " in " ".join(child.cmdline()) else background).append(child.pid)
        except psutil.Error:
            continue
    return {"pg backends": backends, "pg background": background}


async def quiet(dsn: str, *, settle_s: float = 2.0, timeout_s: float = 900.0) -> float:
    """Wait until no other session of the database has been busy for ``settle_s``; the seconds
    waited. Membership's periodic jobs run once at start: billing the month seq-scans the
    participants and bills every self-paying one: at 10 M it wrote 1.35 M bills while the calls
    were measured (260 buffer hits and 7 KB of WAL per call, Postgres CPU per call 3-5x, the p99
    1.4-2.1x the 1 M one); at 1 M it was over within the warm-up."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        calm_since = time.perf_counter()
        while time.perf_counter() - calm_since < settle_s and time.perf_counter() - started < timeout_s:
            await asyncio.sleep(0.2)
            if await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                   " AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'"):
                calm_since = time.perf_counter()
    finally:
        await conn.close()
    return time.perf_counter() - started


async def sample_requests(dsn: str, calls: int, rng: random.Random) -> list:
    """``calls`` requests for participants drawn from the whole table, half by NOKA, half by NIK."""
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval("SELECT reltuples::bigint FROM pg_class WHERE relname = 'participants'")
        percent = min(100.0, 100.0 * 3 * calls / max(1, total))
        rows = await conn.fetch(f"SELECT noka, nik FROM participants TABLESAMPLE BERNOULLI ({percent:.4f})")
    finally:
        await conn.close()
    picked = rng.sample(list(rows), min(calls, len(rows)))
    return [partner_pb2.CheckEligibilityRequest(noka=r["noka"]) if i % 2 else
            partner_pb2.CheckEligibilityRequest(nik=r["nik"]) for i, r in enumerate(picked)]


def _print_cpu(groups: list[str], spent: dict[str, float], elapsed_s: float, requests: int) -> None:
    for name in groups:
        print(f"  cpu {name:<12} {spent.get(name, 0.0) / max(elapsed_s, 1e-9):5.2f} cores   "  # noqa: T201
              f"{1000 * spent.get(name, 0.0) / max(1, requests):7.3f} ms/request")


def _p99_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


async def main(sizes: list[int], calls: int, concurrency: int, workers: int, client_processes: int = 2,
               rounds: int = 5) -> None:
    """Each size in a database of its own, loaded from nothing; then every size's membership
    served at once, and the rounds alternate between them (1 M, 10 M, 1 M, 10 M, …): what drifts on
    the shared machine drifts for both, and the ratio is the median over rounds of the largest
    size's p99 over the smallest's in the same round."""
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger().handlers[:] = [logging.NullHandler()]
    work = Path(tempfile.mkdtemp(prefix="bench-membership-"))
    postgres = infra.Postgres(work / "pg" / "data", infra.free_port(), ephemeral=True, settings=PG_SETTINGS)
    postgres.start()
    redis_server = infra.redis_server(work / "redis", infra.free_port(), persistent=False)
    redis_server.start()
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    bare = grpc.aio.server()
    # the client in processes of its own (the server's process is membership's alone)
    clients = ProcessPoolExecutor(max_workers=client_processes, mp_context=multiprocessing.get_context("spawn"))
    rng = random.Random(1)
    p99s: dict[int, list[float]] = {size: [] for size in sizes}
    load_seconds: dict[int, float] = {}
    try:
        dsns: dict[int, str] = {}
        for size in sizes:
            name = f"bench_membership_{size}"
            postgres.create_databases(name)
            dsn = dsns[size] = postgres.dsn(name)
            await db.migrate(dsn, MIGRATIONS)
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
            await seed_once(pool, service="membership", today=jakarta_today(), seed=seed_demo)
            await pool.close()
            phases: dict[str, float] = {}
            loaded = await bulk.load_to(dsn, size, workers=workers, phases=phases)
            seconds = max(loaded["seconds"], 0.001)
            load_seconds[size] = loaded["seconds"]
            print(f"== {name}: {loaded['present']:,} synthetic participants, loaded {loaded['participants']:,} "  # noqa: T201
                  f"from nothing in {loaded['seconds']} s ({loaded['participants'] / seconds:,.0f} rows/s; "
                  + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()) + ")")
        requests = {size: await sample_requests(dsns[size], calls * rounds, rng) for size in sizes}  # fresh each round
        partner_pb2_grpc.add_PartnerMembershipServiceServicer_to_server(Echo(), bare)
        bare_port = bare.add_insecure_port("127.0.0.1:0")
        await bare.start()
        pg_pid = postgres.server.process.pid  # type: ignore[union-attr]
        async with contextlib.AsyncExitStack() as stack:
            services = {}
            for size in sizes:
                settings = MembershipSettings(env="test", grpc_port=0, metrics_port=0, database_url=dsns[size],
                                              db_pool_max=10, redis_url=redis_url)
                services[size] = await stack.enter_async_context(run_service(settings, build,
                                                                             serve_metrics_port=False))
            for size in sizes:
                waited = await quiet(dsns[size])  # the service's start-up jobs done (as at 06:00, hours after)
                print(f"  {size:,}: membership's start-up jobs took {waited:.1f} s (not measured)")  # noqa: T201
            echo_address = f"127.0.0.1:{bare_port}"
            first = requests[sizes[0]]
            await run_clients(clients, echo_address, first[:300], 4)
            rps, echo_latencies, _errors = await run_clients(clients, echo_address, first[:calls], concurrency)
            echo_row = report("bare grpc echo", rps, echo_latencies)
            for size in sizes:  # warm-up: connections, code paths
                await run_clients(clients, services[size].address, requests[size][-500:], concurrency)
            client_pids = list(clients._processes)  # type: ignore[attr-defined]
            meter = CpuMeter({"membership": [os.getpid()], "clients": client_pids, **postgres_groups(pg_pid)})
            spent = {size: dict.fromkeys(meter.groups, 0.0) for size in sizes}
            counted = {size: dict.fromkeys(("hits", "reads", "backend_writes", "wal_bytes", "checkpoints",
                                            "checkpoint_writes"), 0.0) for size in sizes}
            latencies: dict[int, list[float]] = {size: [] for size in sizes}
            errors = dict.fromkeys(sizes, 0)
            elapsed = dict.fromkeys(sizes, 0.0)
            for index in range(rounds):
                for size in sizes:
                    part = requests[size][index * calls:(index + 1) * calls]
                    before = await pg_counters(dsns[size])
                    with meter.measure():
                        _rps, round_latencies, round_errors = await run_clients(
                            clients, services[size].address, part, concurrency)
                    after = await pg_counters(dsns[size])
                    for key in counted[size]:
                        counted[size][key] += after[key] - before[key]
                    for group, value in meter.spent.items():
                        spent[size][group] += value
                    elapsed[size] += meter.elapsed_s
                    latencies[size] += round_latencies
                    errors[size] += round_errors
                    p99s[size].append(_p99_ms(round_latencies))
        for size in sizes:
            calls_made = len(latencies[size])
            spent[size]["membership"] -= spent[size]["clients"]  # the client processes are this one's children
            row = report(f"eligibility {size // 1_000_000}M" if size >= 1_000_000 else f"eligibility {size}",
                         calls_made / max(elapsed[size], 1e-9), latencies[size])
            print(f"  errors {errors[size]}   p50 x{row['p50'] / echo_row['p50']:.1f} / p99 "  # noqa: T201
                  f"x{row['p99'] / echo_row['p99']:.1f} of the bare echo")
            _print_cpu(list(meter.groups), spent[size], elapsed[size], calls_made)
            per_call = {k: v / max(1, calls_made) for k, v in counted[size].items()}
            print(f"  postgres per call: {per_call['hits']:.1f} buffer hits, {per_call['reads']:.2f} reads, "  # noqa: T201
                  f"{per_call['backend_writes']:.2f} backend writes, {per_call['wal_bytes']:.0f} WAL bytes; "
                  f"checkpoints {counted[size]['checkpoints']:.0f}, "
                  f"{counted[size]['checkpoint_writes']:.0f} buffers written by them")
            print("  p99 per round " + " ".join(f"{p:.2f}" for p in p99s[size]) + " ms")  # noqa: T201
    finally:
        clients.shutdown(cancel_futures=True)
        await bare.stop(0)
        redis_server.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)  # a 10 M cluster is 5 GB
    largest, smallest = sizes[-1], sizes[0]
    print(f"load of {largest:,} from nothing: {load_seconds[largest]:.1f} s (goal < {LOAD_GOAL_S:.0f} s)")  # noqa: T201
    if len(sizes) >= 2:
        paired = [big / small for big, small in zip(p99s[largest], p99s[smallest], strict=True)]
        print(f"p99 {largest:,} / p99 {smallest:,}, round by round: "  # noqa: T201
              + " ".join(f"{r:.2f}" for r in paired) + f"; median {statistics.median(paired):.2f} (lower is better)")
        ratio_line("load_10m_s_vs_180", load_seconds[largest] / LOAD_GOAL_S, 1.0)
        ratio_line("eligibility_p99_10m_vs_1m", statistics.median(paired), GOAL)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", default="1000000,10000000",
                        type=lambda text: sorted(int(n) for n in text.split(",")))
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--rounds", type=int, default=5,
                        help="measured rounds of --calls per size, alternating between the sizes")
    args = parser.parse_args()
    asyncio.run(main(args.participants, args.calls, args.concurrency, args.workers, args.clients, args.rounds))

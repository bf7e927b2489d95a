"""Partner eligibility at national scale: 1,000,000 participants, lookups by NOKA and by NIK.

Starts its own Postgres on a free port, loads the demo data plus N synthetic participants
with the bulk generator (COPY), runs membership in-process and asks
``PartnerMembershipService/CheckEligibility`` (signed like a hospital) for random
participants, by NOKA and by NIK; in the same run a bare ``grpc.aio`` server answers the
same RPC with an empty message, as the baseline. Prints load time, throughput, p50/p99
and the ratios. (The ``/v1/me/membership`` half of the benchmark needs login: issue 5.)

    .venv/bin/python bench/membership.py [--participants 1000000] [--calls 4000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import asyncpg
import grpc

from jkn.membership.v1 import partner_pb2, partner_pb2_grpc
from services.devstack import infra
from services.kit import db
from services.kit.partner_auth import signed_metadata
from services.kit.runtime import run_service
from services.kit.seed import seed_once
from services.membership import bulk
from services.membership.app import MIGRATIONS, build
from services.membership.seed import seed_demo
from services.membership.settings import MembershipSettings


class Echo(partner_pb2_grpc.PartnerMembershipServiceServicer):
    async def CheckEligibility(self, request, context):
        return partner_pb2.CheckEligibilityResponse()


async def run(stub, requests: list, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = iter(requests)

    async def worker() -> None:
        for request in queue:
            metadata = signed_metadata("dev-secret-0114R001", "0114R001")
            started = time.perf_counter()
            await stub.CheckEligibility(request, metadata=metadata, timeout=10)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


def report(name: str, rps: float, latencies: list[float]) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100)
    row = {"rps": rps, "p50": q[49] * 1000, "p99": q[98] * 1000}
    print(f"{name:<14} {rps:8.0f} calls/s   p50 {row['p50']:6.2f} ms   p99 {row['p99']:6.2f} ms")  # noqa: T201
    return row


async def main(participants: int, calls: int, concurrency: int) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger().handlers[:] = [logging.NullHandler()]
    work = Path(tempfile.mkdtemp(prefix="bench-membership-"))
    postgres = infra.Postgres(work / "pg" / "data", infra.free_port(), ephemeral=True)
    postgres.start()
    bare = grpc.aio.server()
    try:
        postgres.create_databases("bench_membership")
        dsn = postgres.dsn("bench_membership")
        await db.migrate(dsn, MIGRATIONS)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        await seed_once(pool, service="membership", today=date.today(), seed=seed_demo)
        loaded = await bulk.load(dsn, participants)
        print(f"loaded {loaded['participants']} participants in {loaded['seconds']} s")  # noqa: T201
        sample = await pool.fetch("SELECT noka, nik FROM participants TABLESAMPLE SYSTEM (1) LIMIT $1", calls)
        await pool.close()
        rng = random.Random(1)
        by_noka = [partner_pb2.CheckEligibilityRequest(noka=r["noka"]) for r in rng.choices(sample, k=calls)]
        by_nik = [partner_pb2.CheckEligibilityRequest(nik=r["nik"]) for r in rng.choices(sample, k=calls)]

        partner_pb2_grpc.add_PartnerMembershipServiceServicer_to_server(Echo(), bare)
        bare_port = bare.add_insecure_port("127.0.0.1:0")
        await bare.start()
        settings = MembershipSettings(env="test", grpc_port=0, metrics_port=0, database_url=dsn, db_pool_max=10)
        async with (run_service(settings, build, serve_metrics_port=False) as membership,
                    grpc.aio.insecure_channel(membership.address) as real,
                    grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as echo):
            stubs = {"real": partner_pb2_grpc.PartnerMembershipServiceStub(real),
                     "echo": partner_pb2_grpc.PartnerMembershipServiceStub(echo)}
            for stub in stubs.values():
                await run(stub, by_noka[:200], 4)
            rows = {"echo": report("echo", *await run(stubs["echo"], by_noka, concurrency)),
                    "noka": report("eligibility/noka", *await run(stubs["real"], by_noka, concurrency)),
                    "nik": report("eligibility/nik", *await run(stubs["real"], by_nik, concurrency))}
        echo_row = rows["echo"]
        for name in ("noka", "nik"):
            row = rows[name]
            print(f"ratio {name:<5} throughput {row['rps'] / echo_row['rps']:.2f} of echo   "  # noqa: T201
                  f"p50 x{row['p50'] / echo_row['p50']:.1f}   p99 x{row['p99'] / echo_row['p99']:.1f}")
    finally:
        await bare.stop(0)
        postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.participants, args.calls, args.concurrency))

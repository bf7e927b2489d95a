"""Partner eligibility at national scale: 1,000,000 participants, lookups by NOKA and by NIK.

Starts its own Postgres on a free port, loads the demo data plus N synthetic participants
with the bulk generator (COPY), runs membership in-process and asks
``PartnerMembershipService/CheckEligibility`` (signed like a hospital) for random
participants, by NOKA and by NIK; in the same run a bare ``grpc.aio`` server answers the
same RPC with an empty message, as the baseline. Then, with auth and the gateway running
too, a logged-in participant's ``GET /v1/me/membership`` through the gateway (HTTP, token
verified locally, revocation checked in Redis, gRPC to membership) against a bare FastAPI
endpoint returning the same body, both served by uvicorn in this process. Prints load time,
throughput, p50/p99 and the ratios.

    .venv/bin/python -m bench.membership [--participants 1000000] [--calls 4000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from pathlib import Path

import asyncpg
import grpc

from bench.common import report
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


async def http_load(url: str, headers: dict[str, str], calls: int, concurrency: int) -> tuple[float, list[float]]:
    import httpx

    latencies: list[float] = []
    queue = iter(range(calls))
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await client.get(url)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        for _ in range(50):
            await client.get(url)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def serve_http(app, port: int) -> asyncio.Task:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.05)
    task.server = server  # type: ignore[attr-defined]
    return task


async def gateway_part(postgres, membership_address: str, calls: int, concurrency: int) -> None:
    import httpx
    from fastapi import FastAPI

    from services.auth.app import build as build_auth
    from services.auth.settings import AuthSettings
    from services.gateway.app import create_app
    from services.gateway.settings import GatewaySettings

    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    redis_server = infra.redis_server(work, infra.free_port(), persistent=False)
    redis_server.start()
    postgres.create_databases("bench_auth")
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    auth_settings = AuthSettings(env="test", grpc_port=0, metrics_port=0, database_url=postgres.dsn("bench_auth"),
                                 redis_url=redis_url, membership_addr=membership_address, seed_demo_data=True)
    try:
        async with run_service(auth_settings, build_auth, serve_metrics_port=False) as auth:
            gateway_port, bare_port = infra.free_port(), infra.free_port()
            gateway = create_app(GatewaySettings(env="test", redis_url=redis_url, auth_addr=auth.address,
                                                 membership_addr=membership_address))
            gateway_task = await serve_http(gateway, gateway_port)
            base = f"http://127.0.0.1:{gateway_port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                login = await client.post("/v1/sessions", json={"identifier": "0004567890006",
                                                                "password": "Sehat#2026"})
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                body = (await client.get("/v1/me/membership", headers=headers)).json()
            bare = FastAPI()
            bare.get("/v1/me/membership")(lambda: body)
            bare_task = await serve_http(bare, bare_port)
            rows = {"bare fastapi": report("bare fastapi", *await http_load(
                        f"http://127.0.0.1:{bare_port}/v1/me/membership", {}, calls, concurrency)),
                    "gateway": report("gateway", *await http_load(f"{base}/v1/me/membership", headers, calls,
                                                                  concurrency))}
            bare_row, gateway_row = rows["bare fastapi"], rows["gateway"]
            print(f"ratio gateway /v1/me/membership throughput {gateway_row['rps'] / bare_row['rps']:.2f} of bare  "  # noqa: T201
                  f"p50 x{gateway_row['p50'] / bare_row['p50']:.1f}   p99 x{gateway_row['p99'] / bare_row['p99']:.1f}")
            for task in (gateway_task, bare_task):
                task.server.should_exit = True  # type: ignore[attr-defined]
                await task
    finally:
        redis_server.stop()


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
        await seed_once(pool, service="membership", today=jakarta_today(), seed=seed_demo)
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
            await gateway_part(postgres, membership.address, min(calls, 3000), concurrency)
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

"""OTP issue + check through the notify gRPC API, against a bare ``grpc.aio`` echo server.

Starts its own Postgres, Redis and broker on free loopback ports, runs notify in-process
(OTP engine, outbox, delivery worker all live), and in the same run a bare grpc.aio
server whose IssueOtp/CheckOtp return empty answers. Each iteration issues a code to a
fresh number and checks it with the right code (the client derives it from the dev key,
outside the timed calls). Prints throughput and p50/p99 of each and the ratios.

    .venv/bin/python -m bench.otp [--flows 1500] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import grpc

from bench.common import report
from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.devstack import infra
from services.kit.redis import open_redis
from services.kit.runtime import run_service
from services.notify import otp
from services.notify.app import build
from services.notify.otp_store import Limits, OtpStore
from services.notify.settings import NotifySettings

PURPOSE = notify_pb2.OTP_PURPOSE_REGISTRATION


class Echo(notify_pb2_grpc.NotifyServiceServicer):
    async def IssueOtp(self, request, context):
        return notify_pb2.IssueOtpResponse()

    async def CheckOtp(self, request, context):
        return notify_pb2.CheckOtpResponse()


async def flows(stub, count: int, concurrency: int, code_of, offset: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = iter(range(offset, offset + count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            issued = await stub.IssueOtp(notify_pb2.IssueOtpRequest(
                purpose=PURPOSE, flow_id=f"bench-{n}", channel=common_pb2.CHANNEL_SMS,
                destination=f"+62812{n:08d}", client_ip="127.0.0.1"), timeout=10)
            issue_s = time.perf_counter() - started
            code = await code_of(issued.verification.verification_id)
            started = time.perf_counter()
            await stub.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=issued.verification.verification_id, code=code, purpose=PURPOSE,
                flow_id=f"bench-{n}"), timeout=10)
            latencies.append(issue_s + time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def main(count: int, concurrency: int) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger().handlers[:] = [logging.NullHandler()]
    work = Path(tempfile.mkdtemp(prefix="bench-otp-"))
    postgres = infra.Postgres(work / "pg" / "data", infra.free_port(), ephemeral=True)
    redis_server = infra.redis_server(work / "redis", infra.free_port(), persistent=False)
    broker = infra.broker(work, infra.free_port())
    for server in (postgres, redis_server, broker):
        server.start()
    postgres.create_databases("bench_notify")
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    settings = NotifySettings(
        env="test", grpc_port=0, metrics_port=0, database_url=postgres.dsn("bench_notify"), redis_url=redis_url,
        kafka_bootstrap=f"127.0.0.1:{broker.port}", otp_client_ip_1h=10**9, otp_number_prefix_1h=10**9,
        otp_sms_budget_1h=10**9, shutdown_grace_s=1)
    keys = otp.parse_code_keys(settings.otp_code_keys.get_secret_value())
    reader = OtpStore(open_redis(redis_url), limits=Limits())

    async def code_of(verification_id: str) -> str:
        state = await reader.load(verification_id)
        assert state is not None
        return otp.derive_code(keys[0], verification_id, bytes.fromhex(state["nonce"]))

    async def no_code(verification_id: str) -> str:
        return "000000"

    bare = grpc.aio.server()
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(Echo(), bare)
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    await bare.start()
    try:
        async with (run_service(settings, build, serve_metrics_port=False) as notify,
                    grpc.aio.insecure_channel(notify.address) as real,
                    grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as echo):
            stubs = {"notify": (notify_pb2_grpc.NotifyServiceStub(real), code_of),
                     "echo": (notify_pb2_grpc.NotifyServiceStub(echo), no_code)}
            for stub, code in stubs.values():
                await flows(stub, 100, 4, code, offset=9_000_000)
            rows = {}
            for name, (stub, code) in stubs.items():
                rows[name] = report(name, *await flows(stub, count, concurrency, code, offset=0), unit="issue+check/s")
        print(f"ratio   throughput notify/echo {rows['notify']['rps'] / rows['echo']['rps']:.3f}   "  # noqa: T201
              f"p50 notify/echo {rows['notify']['p50'] / rows['echo']['p50']:.1f}   "
              f"p99 notify/echo {rows['notify']['p99'] / rows['echo']['p99']:.1f}")
    finally:
        await bare.stop(0)
        await reader.redis.aclose()
        for server in (broker, redis_server, postgres):
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.flows, args.concurrency))

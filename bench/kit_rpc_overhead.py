"""What the runtime kit costs per RPC.

The same trivial unary RPC (NotifyService/GetOtp answering an empty message) is served
twice in the same run on this machine: by a bare ``grpc.aio`` server, and by the kit's
`GrpcServer` (OpenTelemetry span, error mapping, RED metrics, JSON access log to a file)
called through the kit's client channel (deadline and tracing interceptors). Prints
throughput and p50/p99 latency of each and the kit/bare ratios.

    .venv/bin/python -m bench.kit_rpc_overhead [--calls 4000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time

import grpc

from bench.common import report
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.channels import open_channel
from services.kit.grpc_server import GrpcServer, Servicer
from services.kit.logs import JsonFormatter
from services.kit.telemetry import setup_tracing

SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]


class Echo(notify_pb2_grpc.NotifyServiceServicer):
    async def GetOtp(self, request, context):
        return notify_pb2.GetOtpResponse()


async def load(stub: notify_pb2_grpc.NotifyServiceStub, calls: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    per_worker = calls // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            started = time.perf_counter()
            await stub.GetOtp(notify_pb2.GetOtpRequest(verification_id="bench"), timeout=5)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def main(calls: int, concurrency: int, rounds: int) -> None:
    setup_tracing("bench")
    log_file = tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log", delete=True)  # noqa: SIM115
    handler = logging.FileHandler(log_file.name)
    handler.setFormatter(JsonFormatter("bench"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(os.environ.get("BENCH_LOG_LEVEL", "INFO"))

    bare = grpc.aio.server()
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(Echo(), bare)
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    await bare.start()
    kit = GrpcServer([Servicer(Echo(), notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                     host="127.0.0.1", port=0)
    await kit.start()

    bare_channel = grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}")
    kit_channel = open_channel(f"127.0.0.1:{kit.port}", [SERVICE], timeout_s=5)
    stubs = {"bare": notify_pb2_grpc.NotifyServiceStub(bare_channel),
             "kit": notify_pb2_grpc.NotifyServiceStub(kit_channel)}
    for stub in stubs.values():  # warm up connections and code paths
        await load(stub, 200, 8)

    results: dict[str, list[tuple[float, list[float]]]] = {"bare": [], "kit": []}
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        for name, stub in stubs.items():
            results[name].append(await load(stub, calls, concurrency))
    print(f"{calls} calls x {rounds} rounds, {concurrency} concurrent, one channel each")  # noqa: T201
    rows = {}
    for name, runs in results.items():
        best = max(runs, key=lambda r: r[0])
        rows[name] = report(name, best[0], best[1])
    print(f"ratio  throughput kit/bare {rows['kit']['rps'] / rows['bare']['rps']:.2f}   "  # noqa: T201
          f"p50 kit/bare {rows['kit']['p50'] / rows['bare']['p50']:.2f}   "
          f"p99 kit/bare {rows['kit']['p99'] / rows['bare']['p99']:.2f}")

    await bare_channel.close()
    await kit_channel.close()
    await bare.stop(0)
    await kit.stop(grace_s=0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.concurrency, args.rounds))

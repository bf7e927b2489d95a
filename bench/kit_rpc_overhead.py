"""What the runtime kit's gRPC server costs per RPC, against a bare ``grpc.aio`` server.

The same trivial unary RPC (NotifyService/GetOtp answering an empty message) is served by
two server processes started by this run: a bare ``grpc.aio`` server, and the kit's
`GrpcServer` (server interceptor: span continuing the caller's trace, error mapping, RED
metrics, JSON access log at INFO to a file, tracing set up as a service does without an
OTLP endpoint; ``--export`` adds a span processor so spans are recorded and handed on).

The load comes from several client *processes* (``--clients``), each with its own event
loop and one plain ``grpc.aio`` channel per server, so the client is the same for both and
is not the server's bottleneck. Every call carries a sampled W3C ``traceparent`` and a
deadline, as calls from the kit's own channels do. Rounds alternate bare, kit, bare, kit…
for ``--seconds`` each; the ratio is the median over rounds of kit/bare throughput, each
kit round against the bare round just before it, so drift of the shared machine hits both.

Printed per server: throughput, p50/p99, errors, server CPU per call and the clients' CPU
(a client share near the machine's core count means the clients, not the server, limit).
The last line is ``ratio kit_rpc_overhead=<kit/bare throughput> goal=0.70``.

    .venv/bin/python -m bench.kit_rpc_overhead [--clients 2] [--concurrency 32] [--rounds 4] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import grpc

from bench.common import CpuMeter, ratio_line, report
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc

GOAL = 0.7
SERVERS = ("bare", "kit")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Echo(notify_pb2_grpc.NotifyServiceServicer):
    async def GetOtp(self, request, context):
        return notify_pb2.GetOtpResponse()


# --- server processes -----------------------------------------------------------------------------


def run_server(kind: str, export: bool, conn: Connection) -> None:
    """Process entry: serve ``kind`` ("bare" or "kit") on a free port, send the port, serve
    until the parent sends anything."""
    asyncio.run(_serve(kind, export, conn))


async def _serve(kind: str, export: bool, conn: Connection) -> None:
    server = _kit_server() if kind == "kit" else _bare_server()
    if kind == "kit":
        _kit_observability(export)
        port = await server.start()
    else:
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
    conn.send(port)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await (server.stop(grace_s=0) if kind == "kit" else server.stop(0))


def _bare_server() -> grpc.aio.Server:
    server = grpc.aio.server()
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(Echo(), server)
    return server


def _kit_server():
    from services.kit.grpc_server import GrpcServer, Servicer

    service = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]
    return GrpcServer([Servicer(Echo(), notify_pb2_grpc.add_NotifyServiceServicer_to_server, service.full_name)],
                      host="127.0.0.1", port=0)


def _kit_observability(export: bool) -> None:
    """Logging and tracing as a service process sets them up (JSON lines at INFO, to a file)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.kit.logs import JsonFormatter
    from services.kit.telemetry import setup_tracing

    provider = setup_tracing("bench")
    if export:
        provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    log_path = tempfile.mkstemp(prefix="bench-kit-", suffix=".log")[1]
    handler = logging.FileHandler(log_path)  # opened now, so the name can go at once
    os.unlink(log_path)
    handler.setFormatter(JsonFormatter("bench"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)


# --- client processes -----------------------------------------------------------------------------


@dataclass
class Load:
    """What one client process saw in one round."""

    calls: int
    errors: int
    latencies: list[float]


def run_client(ports: dict[str, int], concurrency: int, conn: Connection) -> None:
    """Process entry: one channel per server; for each ``(server, seconds)`` the parent sends,
    drive that server for that long and send back a `Load`; ``None`` ends the process."""
    asyncio.run(_client(ports, concurrency, conn))


async def _client(ports: dict[str, int], concurrency: int, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    channels = {name: grpc.aio.insecure_channel(f"127.0.0.1:{port}") for name, port in ports.items()}
    stubs = {name: notify_pb2_grpc.NotifyServiceStub(channel) for name, channel in channels.items()}
    for stub in stubs.values():  # connect and warm the code paths before anything is measured
        await _drive(stub, concurrency, 0.3)
    conn.send("ready")
    while (command := await loop.run_in_executor(None, conn.recv)) is not None:
        name, seconds = command
        conn.send(await _drive(stubs[name], concurrency, seconds))
    for channel in channels.values():
        await channel.close()


async def _drive(stub: notify_pb2_grpc.NotifyServiceStub, concurrency: int, seconds: float) -> Load:
    load = Load(calls=0, errors=0, latencies=[])
    request = notify_pb2.GetOtpRequest(verification_id="bench")
    metadata = (("traceparent", TRACEPARENT),)
    until = time.perf_counter() + seconds

    async def worker() -> None:
        while (started := time.perf_counter()) < until:
            try:
                await stub.GetOtp(request, timeout=5, metadata=metadata)
            except grpc.aio.AioRpcError:
                load.errors += 1
                continue
            load.latencies.append(time.perf_counter() - started)
            load.calls += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return load


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Round:
    server: str
    rps: float
    errors: int
    latencies: list[float]
    server_cpu_us: float  # per call
    client_share: float  # cores


class Bench:
    """The two server processes and the client processes of one run."""

    def __init__(self, clients: int, concurrency: int, export: bool):
        self.ctx = multiprocessing.get_context("spawn")  # no fork: grpc's threads do not survive one
        self.servers: dict[str, tuple[multiprocessing.process.BaseProcess, Connection]] = {}
        self.ports: dict[str, int] = {}
        for kind in SERVERS:
            ours, theirs = self.ctx.Pipe()
            process = self.ctx.Process(target=run_server, args=(kind, export, theirs), daemon=True)
            process.start()
            self.servers[kind] = (process, ours)
            self.ports[kind] = ours.recv()
        self.clients: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        for _ in range(clients):
            ours, theirs = self.ctx.Pipe()
            process = self.ctx.Process(target=run_client, args=(self.ports, concurrency, theirs), daemon=True)
            process.start()
            self.clients.append((process, ours))
        for _, conn in self.clients:
            assert conn.recv() == "ready"

    def round(self, server: str, seconds: float) -> Round:
        meter = CpuMeter({"server": [self.servers[server][0].pid or 0],
                          "clients": [p.pid or 0 for p, _ in self.clients]})
        with meter.measure():
            for _, conn in self.clients:
                conn.send((server, seconds))
            loads: list[Load] = [conn.recv() for _, conn in self.clients]
        calls = sum(load.calls for load in loads)
        return Round(server=server, rps=calls / seconds, errors=sum(load.errors for load in loads),
                     latencies=[x for load in loads for x in load.latencies],
                     server_cpu_us=1e6 * meter.spent.get("server", 0.0) / max(1, calls),
                     client_share=meter.share("clients"))

    def close(self) -> None:
        for process, conn in [*self.clients, *self.servers.values()]:
            conn.send(None)
            process.join(10)


def summarize(rounds: list[Round]) -> dict[str, float]:
    """The median round by throughput: its row, plus CPU and errors over every round."""
    median = sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]
    row = report(median.server, median.rps, median.latencies)
    print(f"{'':<16} errors {sum(r.errors for r in rounds)}   server cpu "  # noqa: T201
          f"{statistics.median(r.server_cpu_us for r in rounds):6.1f} us/call   "
          f"client cpu {statistics.median(r.client_share for r in rounds):4.2f} cores   "
          f"rounds {' '.join(f'{r.rps:.0f}' for r in rounds)} calls/s")
    return {**row, "cpu_us": statistics.median(r.server_cpu_us for r in rounds)}


def main(clients: int, concurrency: int, rounds: int, seconds: float, export: bool) -> None:
    bench = Bench(clients, concurrency, export)
    try:
        for server in SERVERS:  # a short unmeasured round each: caches, metric children, JIT-less warm-up
            bench.round(server, 0.5)
        results: dict[str, list[Round]] = {name: [] for name in SERVERS}
        for _ in range(rounds):
            for server in SERVERS:  # bare, kit, bare, kit…: machine noise hits both alike
                results[server].append(bench.round(server, seconds))
    finally:
        bench.close()
    print(f"{clients} client processes x {concurrency} concurrent calls, {rounds} rounds of {seconds:g} s "  # noqa: T201
          f"per server{', spans exported' if export else ''}")
    rows = {name: summarize(runs) for name, runs in results.items()}
    ratios = [kit.rps / bare.rps for bare, kit in zip(results["bare"], results["kit"], strict=True)]
    print(f"ratio  throughput kit/bare {statistics.median(ratios):.2f} (rounds "  # noqa: T201
          f"{' '.join(f'{r:.2f}' for r in ratios)})   p50 kit/bare {rows['kit']['p50'] / rows['bare']['p50']:.2f}   "
          f"p99 kit/bare {rows['kit']['p99'] / rows['bare']['p99']:.2f}   "
          f"server cpu/call kit/bare {rows['kit']['cpu_us'] / rows['bare']['cpu_us']:.2f}")
    ratio_line("kit_rpc_overhead", statistics.median(ratios), GOAL)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight per client process")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--export", action="store_true", help="record spans (an in-memory exporter)")
    args = parser.parse_args()
    main(args.clients, args.concurrency, args.rounds, args.seconds, args.export)

"""The gRPC server every service runs: health, reflection, observed handlers, graceful stop.

`GrpcServer` binds a `grpc.aio` server with
- every handler wrapped as it is registered (`interceptors.ObservedServer`): a span continuing
  the caller's trace, errors → status codes, RED metrics, access logs;
- the library health servicer (grpcio-health-checking): SERVING once started, per service
  and overall (""), NOT_SERVING as soon as shutdown begins;
- server reflection for every registered service.

`stop()` follows the order load balancers expect: health → NOT_SERVING, wait
``drain_delay_s`` for them to notice, then ``server.stop(grace)`` which refuses new calls
and gives in-flight ones ``grace`` seconds to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from services.kit.interceptors import ObservedServer
from services.kit.logs import get_logger
from services.kit.startup import StartupError

log = get_logger("jkn.server")


@dataclass(frozen=True)
class Servicer:
    """One gRPC service to host: the implementation, its generated add-function, its full name."""

    impl: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    name: str  # e.g. "jkn.notify.v1.NotifyService"


class GrpcServer:
    def __init__(self, servicers: list[Servicer], *, host: str, port: int, max_workers_hint: int = 0):
        self.servicers = servicers
        self.host, self.requested_port = host, port
        self.health = HealthServicer()
        self.port = 0
        self._server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                # Clients reconnect (and re-resolve DNS) every 5 minutes, so new replicas get traffic.
                ("grpc.max_connection_age_ms", 300_000),
                ("grpc.max_connection_age_grace_ms", 30_000),
            ],
        )

    async def start(self) -> int:
        observed: Any = ObservedServer(self._server)  # every handler wrapped as it is registered
        for servicer in self.servicers:
            servicer.add_to_server(servicer.impl, observed)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, observed)
        names = [s.name for s in self.servicers]
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(reflection.aio.ReflectionServicer(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]), observed)
        address = f"{self.host}:{self.requested_port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as error:
            raise StartupError(f"cannot listen on {address}: port taken or address unavailable") from error
        if self.port == 0:
            raise StartupError(f"cannot listen on {address}: port taken or address unavailable")
        await self._server.start()
        for name in ["", *names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc_server_started", extra={"address": f"{self.host}:{self.port}", "services": names})
        return self.port

    async def stop(self, *, grace_s: float, drain_delay_s: float = 0.0) -> None:
        """Health → NOT_SERVING, let balancers notice, then drain in-flight calls for ``grace_s``."""
        await self.health.enter_graceful_shutdown()
        if drain_delay_s > 0:
            await asyncio.sleep(drain_delay_s)
        await self._server.stop(grace_s)
        log.info("grpc_server_stopped", extra={"port": self.port})

    async def wait(self) -> None:
        await self._server.wait_for_termination()

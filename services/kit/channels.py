"""Client channels for service-to-service calls.

Every call has a deadline: an interceptor gives the channel's default to any call made
without one. (The service config's own ``timeout`` is not used: grpcio's aio channels
apply it from the wrong start time and expire calls early.) Retries are transparent but
only for methods the proto marks ``option idempotency_level = NO_SIDE_EFFECTS`` (or
``IDEMPOTENT``), and only on ``UNAVAILABLE`` — a retried ``CreateBooking`` could book twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions
from opentelemetry.instrumentation.grpc import aio_client_interceptors

_SAFE = (MethodOptions.NO_SIDE_EFFECTS, MethodOptions.IDEMPOTENT)


def idempotent_methods(services: Iterable[ServiceDescriptor]) -> list[dict[str, str]]:
    """The ``{service, method}`` names the protos declare free of side effects or idempotent."""
    return [
        {"service": s.full_name, "method": m.name}
        for s in services for m in s.methods
        if m.GetOptions().idempotency_level in _SAFE
    ]


def service_config(services: Iterable[ServiceDescriptor]) -> str:
    """gRPC service config: retries on UNAVAILABLE for the side-effect-free methods only."""
    configs: list[dict] = []
    safe = idempotent_methods(services)
    if safe:
        configs.append({
            "name": safe,
            "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
                            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
        })
    return json.dumps({"methodConfig": configs})


class DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Gives a call without a deadline the channel's default one."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    def _with_deadline(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        if details.timeout is None:
            return details._replace(timeout=self.timeout_s)  # type: ignore[attr-defined]
        return details

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self._with_deadline(client_call_details), request)

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self._with_deadline(client_call_details), request)


def open_channel(address: str, services: Iterable[ServiceDescriptor] = (), *, timeout_s: float = 3.0
                 ) -> grpc.aio.Channel:
    """An insecure (in-cluster, mesh-encrypted) channel with tracing, deadlines and safe retries."""
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.service_config", service_config(services)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 5_000),
        ],
        interceptors=[*aio_client_interceptors(), DefaultDeadline(timeout_s)],
    )

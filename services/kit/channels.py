"""Client channels for service-to-service calls.

One client interceptor gives every call a CLIENT span whose context travels in the
metadata (``traceparent``), and the channel's default deadline when the call has none.
(The service config's own ``timeout`` is not used: grpcio's aio channels apply it from
the wrong start time and expire calls early.) Health checks get the deadline but no span:
readiness probes would flood the traces. Retries are transparent but
only for methods the proto marks ``option idempotency_level = NO_SIDE_EFFECTS`` (or
``IDEMPOTENT``), and only on ``UNAVAILABLE`` — a retried ``CreateBooking`` could book twice.

A bulkhead caps the calls in flight on one channel (``max_in_flight``): beyond it a call waits
for a slot within its own deadline, then fails as DEPENDENCY_UNAVAILABLE (503) — never a pile
of thousands of streams on one connection (grpcio cancels calls beyond roughly 1,800
concurrent streams; measured with a bare grpc.aio server and client).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit.errors import DependencyUnavailable
from services.kit.telemetry import UNTRACED_GRPC_SERVICES, start_span

_SAFE = (MethodOptions.NO_SIDE_EFFECTS, MethodOptions.IDEMPOTENT)
_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:")  # a plain "host:port" goes through DNS
tracer = trace.get_tracer("jkn.rpc.client")


def idempotent_methods(services: Iterable[ServiceDescriptor]) -> list[dict[str, str]]:
    """The ``{service, method}`` names the protos declare free of side effects or idempotent."""
    return [
        {"service": s.full_name, "method": m.name}
        for s in services for m in s.methods
        if m.GetOptions().idempotency_level in _SAFE
    ]


def service_config(services: Iterable[ServiceDescriptor]) -> str:
    """gRPC service config: round robin over every address the name resolves to (in Kubernetes,
    a headless Service: every ready pod), retries on UNAVAILABLE for the side-effect-free
    methods only."""
    configs: list[dict] = []
    safe = idempotent_methods(services)
    if safe:
        configs.append({
            "name": safe,
            "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
                            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
        })
    return json.dumps({"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": configs})


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """A CLIENT span per call, its context in the metadata, and a deadline when none was given."""

    def __init__(self, timeout_s: float, max_in_flight: int = 512):
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_in_flight)

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        timeout = self.timeout_s if client_call_details.timeout is None else client_call_details.timeout
        started = time.monotonic()
        await self._take_slot(deadline_s=timeout)
        try:
            remaining = max(timeout - (time.monotonic() - started), 0.001)
            call = await self._call(continuation, client_call_details._replace(timeout=remaining), request)
            await call.code()  # the slot is held until the call is over
            return call
        finally:
            self._slots.release()

    async def _take_slot(self, *, deadline_s: float) -> None:
        """A slot of the bulkhead: at once while one is free (no timer), else waited for within
        the call's deadline; none in time is DEPENDENCY_UNAVAILABLE."""
        if not self._slots.locked():
            await self._slots.acquire()  # returns without suspending: a slot is free
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), deadline_s)
        except TimeoutError:
            raise DependencyUnavailable("upstream service (too many calls in flight)") from None

    async def _call(self, continuation, client_call_details, request):
        details = client_call_details
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        service, _, name = method.lstrip("/").rpartition("/")
        timeout = details.timeout
        if service in UNTRACED_GRPC_SERVICES:  # probes (readiness) are not traced
            return await continuation(details._replace(timeout=timeout), request)
        span = start_span(tracer, method.lstrip("/"), parent=None, kind=SpanKind.CLIENT,
                          attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name})
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            metadata = grpc.aio.Metadata(*(details.metadata or ()))
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            for key, value in carrier.items():
                metadata.add(key, value)
            call = await continuation(details._replace(timeout=timeout, metadata=metadata), request)
            code = await call.code()
            if span.is_recording():
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code != grpc.StatusCode.OK:
                    span.set_status(Status(StatusCode.ERROR))
            return call


def open_channel(address: str, services: Iterable[ServiceDescriptor] = (), *, timeout_s: float = 3.0,
                 max_in_flight: int = 512) -> grpc.aio.Channel:
    """An insecure (in-cluster, mesh-encrypted) channel with tracing, deadlines and safe retries."""
    return grpc.aio.insecure_channel(
        address if address.startswith(_SCHEMES) else f"dns:///{address}",
        options=[
            ("grpc.service_config", service_config(services)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 5_000),
        ],
        interceptors=[ClientInterceptor(timeout_s, max_in_flight)],
    )

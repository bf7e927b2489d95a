"""The server interceptor: a span, errors → status codes, RED metrics, a JSON access log.

One wrapper does all four: OpenTelemetry's generic aio interceptor would add a second
layer that, measured with ``bench/kit_rpc_overhead.py``, cost more than everything else
together. The span continues the caller's trace (W3C ``traceparent`` in the metadata)
and is current while the handler runs, so every log line carries its trace id. Health and
reflection calls are measured but neither traced nor logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit import metrics
from services.kit.errors import DomainError, dependency_failure, peer_refusal
from services.kit.logs import get_logger
from services.kit.telemetry import UNTRACED_GRPC_SERVICES
from services.kit.validation import check_text

log = get_logger("jkn.rpc")
tracer = trace.get_tracer("jkn.rpc")


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


class ObservedCall:
    """Bookkeeping of one RPC: maps errors, then records metrics and the access log."""

    def __init__(self, full_method: str):
        self.service, self.method = _split(full_method)
        self.quiet = self.service in UNTRACED_GRPC_SERVICES
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK
        self.reason: str | None = None

    async def fail(self, error: BaseException, context: grpc.aio.ServicerContext) -> None:
        """Abort the call with the status that ``error`` stands for (always raises)."""
        error = dependency_failure(error) or peer_refusal(error) or error
        if isinstance(error, DomainError):
            self.code, self.reason = error.grpc_status, error.code
            await context.abort_with_status(error.to_status())
        self.code, self.reason = grpc.StatusCode.INTERNAL, "INTERNAL"
        log.error("rpc_crashed", exc_info=error, extra={"rpc": f"{self.service}/{self.method}"})
        await context.abort_with_status(DomainError(code="INTERNAL").to_status())

    def span(self, context: grpc.aio.ServicerContext):
        """The SERVER span of this call, parented from the caller's trace context."""
        if self.quiet:
            return trace.use_span(trace.INVALID_SPAN)
        carrier = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        return tracer.start_as_current_span(
            f"{self.service}/{self.method}", context=propagate.extract(carrier), kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": self.service, "rpc.method": self.method},
            record_exception=False, set_status_on_exception=False)

    def finish(self, context: grpc.aio.ServicerContext) -> None:
        elapsed = time.perf_counter() - self.started
        if self.code == grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
            self.code = context.code()
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", self.code.value[0])
            if self.reason:
                span.set_attribute("error.type", self.reason)
            if self.code != grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR))
        metrics.RPC_HANDLED.labels(self.service, self.method, self.code.name).inc()
        metrics.RPC_LATENCY.labels(self.service, self.method).observe(elapsed)
        if not self.quiet:
            level = 40 if self.code == grpc.StatusCode.INTERNAL else 20
            log.log(level, "rpc_handled", extra={
                "rpc": f"{self.service}/{self.method}", "grpc_code": self.code.name,
                "reason": self.reason, "duration_ms": round(elapsed * 1000, 2),
            })


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of a server with error mapping, metrics and access logs."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _streaming(handler.stream_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler


def _unary(behavior: Callable[..., Awaitable[Any]], method: str):
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = ObservedCall(method)
        metrics.RPC_IN_FLIGHT.labels(call.service).inc()
        with call.span(context):
            try:
                check_text(request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                call.code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except asyncio.CancelledError:
                call.code = grpc.StatusCode.CANCELLED
                raise
            except Exception as error:  # noqa: BLE001 - every failure is mapped, none leaks
                await call.fail(error, context)
            finally:
                metrics.RPC_IN_FLIGHT.labels(call.service).dec()
                call.finish(context)

    return observed


def _streaming(behavior: Callable[..., AsyncIterator[Any]], method: str):
    async def observed(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = ObservedCall(method)
        with call.span(context):
            try:
                check_text(request_or_iterator)  # a single request; a request stream is not inspected
                result = behavior(request_or_iterator, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                else:  # a handler that writes with context.write() and returns a coroutine
                    await result  # type: ignore[misc]
            except grpc.aio.AbortError:
                call.code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except asyncio.CancelledError:
                call.code = grpc.StatusCode.CANCELLED
                raise
            except Exception as error:  # noqa: BLE001
                await call.fail(error, context)
            finally:
                call.finish(context)

    return observed

"""The server interceptor: a span, errors → status codes, RED metrics, a JSON access log.

One wrapper does all four: OpenTelemetry's generic aio interceptor would add a second
layer that, measured with ``bench/kit_rpc_overhead.py``, cost more than everything else
together. The span continues the caller's trace (W3C ``traceparent`` in the metadata)
and is current while the handler runs, so every log line carries its trace id. Health and
reflection calls are measured but neither traced nor logged.

Everything that depends only on the method (its names, span attributes, the metric children
of its labels, the wrapped handler itself) is worked out once per method (`Rpc`), so a
call pays only for what is its own: timing, its span, its status code and its log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Token
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit import metrics
from services.kit.errors import DomainError, dependency_failure, peer_refusal
from services.kit.logs import get_logger
from services.kit.telemetry import UNTRACED_GRPC_SERVICES, context_from_metadata, start_span
from services.kit.validation import check_text

log = get_logger("jkn.rpc")
tracer = trace.get_tracer("jkn.rpc")

_OK = grpc.StatusCode.OK
_INTERNAL = grpc.StatusCode.INTERNAL


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


class Rpc:
    """What every call of one method shares: names, span attributes, metric children."""

    def __init__(self, full_method: str):
        self.service, self.method = _split(full_method)
        self.name = f"{self.service}/{self.method}"
        self.quiet = self.service in UNTRACED_GRPC_SERVICES
        self.span_attributes = {"rpc.system": "grpc", "rpc.service": self.service, "rpc.method": self.method}
        self.in_flight = metrics.RPC_IN_FLIGHT.labels(self.service)
        self.latency = metrics.RPC_LATENCY.labels(self.service, self.method)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        """The ``grpc_server_handled_total`` child of this method and ``code`` (made on first use)."""
        child = self._handled.get(code)
        if child is None:
            child = self._handled[code] = metrics.RPC_HANDLED.labels(self.service, self.method, code.name)
        return child


class ObservedCall:
    """Bookkeeping of one RPC: its span, maps errors, then records metrics and the access log."""

    __slots__ = ("rpc", "started", "code", "reason", "span", "_token")

    def __init__(self, rpc: Rpc):
        self.rpc = rpc
        self.started = time.perf_counter()
        self.code = _OK
        self.reason: str | None = None
        self.span: trace.Span = trace.INVALID_SPAN
        self._token: Token[otel_context.Context] | None = None

    def enter(self, context: grpc.aio.ServicerContext) -> None:
        """Make the SERVER span of this call, parented from the caller's trace context, current."""
        if not self.rpc.quiet:
            self.span = start_span(tracer, self.rpc.name, parent=context_from_metadata(context.invocation_metadata()),
                                   kind=SpanKind.SERVER, attributes=self.rpc.span_attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    async def fail(self, error: BaseException, context: grpc.aio.ServicerContext) -> None:
        """Abort the call with the status that ``error`` stands for (always raises)."""
        error = dependency_failure(error) or peer_refusal(error) or error
        if isinstance(error, DomainError):
            self.code, self.reason = error.grpc_status, error.code
            await context.abort_with_status(error.to_status())
        self.code, self.reason = _INTERNAL, "INTERNAL"
        log.error("rpc_crashed", exc_info=error, extra={"rpc": self.rpc.name})
        await context.abort_with_status(DomainError(code="INTERNAL").to_status())

    def finish(self, context: grpc.aio.ServicerContext) -> None:
        """Status on the span, RED metrics, the access log line (still inside the span, so it
        carries the trace id); then the span ends and stops being current."""
        elapsed = time.perf_counter() - self.started
        if self.code is _OK and context.code() not in (None, _OK):
            self.code = context.code()
        try:
            self._end_span()
            self.rpc.handled(self.code).inc()
            self.rpc.latency.observe(elapsed)
            if not self.rpc.quiet:
                self._access_log(elapsed)
        finally:
            if self._token is not None:
                otel_context.detach(self._token)

    def _end_span(self) -> None:
        span = self.span
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", self.code.value[0])
            if self.reason:
                span.set_attribute("error.type", self.reason)
            if self.code is not _OK:
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    def _access_log(self, elapsed: float) -> None:
        level = 40 if self.code is _INTERNAL else 20
        if log.isEnabledFor(level):  # the fields are only built for a line that is written
            log.log(level, "rpc_handled", extra={
                "rpc": self.rpc.name, "grpc_code": self.code.name,
                "reason": self.reason, "duration_ms": round(elapsed * 1000, 2),
            })


class ObservedServer:
    """The server as servicers see it while they register: every handler they add is wrapped
    (error mapping, metrics, span, access log) once, at registration.

    Not a ``grpc.aio.ServerInterceptor``: grpc.aio runs an interceptor chain as coroutines on every
    call before the handler is even found, which measured (bench/kit_rpc_overhead.py) cost more than
    the wrapping itself; a handler wrapped in advance costs nothing to find.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_ObservedGeneric(handler) for handler in handlers))

    def add_registered_method_handlers(self, service_name: str,
                                       method_handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self._server.add_registered_method_handlers(service_name, {
            name: _wrap(handler, Rpc(f"/{service_name}/{name}")) for name, handler in method_handlers.items()})


class _ObservedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose method handlers come out wrapped; the wrapped one is kept and
    handed out again while the inner handler for the method stays the same object."""

    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = _wrap(handler, Rpc(method))
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _wrap(handler: grpc.RpcMethodHandler, rpc: Rpc) -> grpc.RpcMethodHandler:
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _unary(handler.unary_unary, rpc),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, rpc),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, rpc),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
    return handler


def _unary(behavior: Callable[..., Awaitable[Any]], rpc: Rpc):
    async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = ObservedCall(rpc)
        rpc.in_flight.inc()
        call.enter(context)
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
            rpc.in_flight.dec()
            call.finish(context)

    return observed


def _streaming(behavior: Callable[..., AsyncIterator[Any]], rpc: Rpc):
    async def observed(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = ObservedCall(rpc)
        call.enter(context)
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

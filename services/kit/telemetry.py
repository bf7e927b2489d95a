"""OpenTelemetry tracing: one provider per process, context carried over gRPC and Kafka.

Spans are exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise they
still exist (so logs carry trace ids) but go nowhere. Span attributes never hold personal
data: record identifiers only in masked form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_provider: TracerProvider | None = None


def setup_tracing(service: str) -> TracerProvider:
    """Install the process-wide tracer provider (once; later calls return the first)."""
    global _provider
    if _provider is not None:
        return _provider
    _provider = TracerProvider(resource=Resource.create({"service.name": f"jkn-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    return _provider


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()


def inject_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka message headers (W3C traceparent/tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode()) for k, v in carrier.items()]


def extract_context(headers: Mapping[str, str]) -> context.Context:
    """The trace context a producer put into Kafka headers (empty context if none)."""
    return propagate.extract(dict(headers))

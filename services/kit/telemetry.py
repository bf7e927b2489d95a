"""OpenTelemetry tracing: one provider per process, context carried over gRPC and Kafka.

One request is one trace, from the gateway's SERVER span through every gRPC hop (CLIENT
span → SERVER span, W3C ``traceparent`` in the metadata), into the outbox (the context of
the span that wrote the event is stored with it), out of the relay (a PRODUCER span, its
context in the Kafka headers) and into the consumer (a CONSUMER span parented from those
headers) and whatever the handler does, such as notify's delivery of an SMS.

Spans are exported over OTLP/gRPC when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, e.g. ``http://otel-collector:4317``; the
exporter reads the other standard ``OTEL_EXPORTER_OTLP_*`` variables itself (headers,
certificate, timeout) and the SDK reads ``OTEL_TRACES_SAMPLER``. Without an endpoint spans
still exist (so logs carry trace ids) but go nowhere.

While nothing receives spans (no endpoint, no test exporter) `start_span` gives spans that are
not recorded but carry the ids and sampling flags the SDK would have given them, so trace ids
and propagation are unchanged and the per-call cost of building and dropping a span is saved.

Health checks, readiness and ``/metrics`` are not traced. Span attributes never hold
personal data (NIK, NOKA, phone, email, names) nor secrets (codes, tokens, passwords): they
name services, methods, route templates, topics, channels, templates and outcomes only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import Attributes

from services.kit.startup import StartupError


class KitTracerProvider(TracerProvider):
    """The SDK's provider, knowing whether any span processor (an exporter) receives its spans."""

    records_spans = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.records_spans = True


_provider: KitTracerProvider | None = None
_ids = RandomIdGenerator()

#: gRPC services whose calls are neither traced by servers nor by clients (probes, tooling).
UNTRACED_GRPC_SERVICES = frozenset({
    "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection",
})


def otlp_endpoint() -> str | None:
    """Where spans are exported, or None when tracing stays in-process."""
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") \
        or None


def otlp_exporter() -> SpanExporter:
    """The OTLP span exporter for ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` (``grpc`` by default)."""
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip().lower()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "http/protobuf":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
        except ImportError:
            raise StartupError("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf needs the package "
                               "opentelemetry-exporter-otlp-proto-http; this build exports over grpc") from None
        return HttpExporter()
    raise StartupError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported (use grpc)")


def setup_tracing(service: str) -> KitTracerProvider:
    """Install the process-wide tracer provider (once; later calls return the first)."""
    global _provider
    if _provider is not None:
        return _provider
    provider = KitTracerProvider(resource=Resource.create({"service.name": f"jkn-{service}",
                                                           "service.namespace": "jkn"}))
    if otlp_endpoint():
        provider.add_span_processor(BatchSpanProcessor(otlp_exporter()))
    _provider = provider
    trace.set_tracer_provider(provider)
    return provider


def flush_tracing(timeout_s: float = 5.0) -> None:
    """Export what is buffered now (a process about to stop, a test about to read)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()


def start_span(tracer: trace.Tracer, name: str, *, parent: context.Context | None, kind: SpanKind,
               attributes: Attributes) -> trace.Span:
    """A new span (not yet current, not ended) under ``parent`` (None: the current context).

    Exceptions are neither recorded on it nor turned into its status: the caller sets the
    status from the gRPC code. While no processor receives the kit's spans the span is
    `_unrecorded_span` instead of a real one.
    """
    provider = _provider
    if provider is None or provider.records_spans or trace.get_tracer_provider() is not provider:
        return tracer.start_span(name, context=parent, kind=kind, attributes=attributes, record_exception=False,
                                 set_status_on_exception=False)
    return _unrecorded_span(provider, name, parent, kind, attributes)


def _unrecorded_span(provider: TracerProvider, name: str, parent: context.Context | None, kind: SpanKind,
                     attributes: Attributes) -> trace.Span:
    """What the SDK's ``Tracer.start_span`` makes, minus the recording nobody would see: the
    parent's trace id (a new one for a root), a new span id, the provider's sampler deciding
    the sampled flag and trace state (so the calls this one makes propagate the same flags)."""
    parent_context = trace.get_current_span(parent).get_span_context()
    remote = parent_context if parent_context.is_valid else None
    ids = provider.id_generator
    trace_id = remote.trace_id if remote else ids.generate_trace_id()
    decision = provider.sampler.should_sample(parent, trace_id, name, kind, attributes)
    flags = TraceFlags.SAMPLED if decision.decision.is_sampled() else TraceFlags.DEFAULT
    if (remote.trace_flags.random_trace_id if remote else ids.is_trace_id_random()):
        flags |= TraceFlags.RANDOM_TRACE_ID
    return NonRecordingSpan(SpanContext(trace_id, ids.generate_span_id(), is_remote=False,
                                        trace_flags=TraceFlags(flags), trace_state=decision.trace_state))


def context_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> context.Context:
    """The caller's trace context (``traceparent``, ``tracestate``, ``baggage``…) from gRPC
    metadata; an empty context, never the current one, when it holds none of the propagators'
    keys (a root call: the propagators are not asked)."""
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    if _propagated_fields().isdisjoint(carrier):
        return context.Context()
    return propagate.extract(carrier)


_fields_of: tuple[object, frozenset[str]] = (None, frozenset())


def _propagated_fields() -> frozenset[str]:
    """The metadata keys the global propagators read, computed again only when they change."""
    global _fields_of
    textmap = propagate.get_global_textmap()
    if _fields_of[0] is not textmap:
        _fields_of = (textmap, frozenset(textmap.fields))
    return _fields_of[1]


def untraced():
    """Make what runs inside invisible to tracing: a probe, /metrics, a dev-only route.

    The current span becomes a valid but unsampled one, so every span started below it
    (a gRPC CLIENT span, the SERVER span on the other side) is dropped by the parent-based
    sampler instead of becoming the root of a stray trace of its own.
    """
    unsampled = SpanContext(trace_id=_ids.generate_trace_id(), span_id=_ids.generate_span_id(), is_remote=False,
                            trace_flags=TraceFlags(TraceFlags.DEFAULT))
    return trace.use_span(NonRecordingSpan(unsampled))


def inject_headers(ctx: context.Context | None = None) -> list[tuple[str, bytes]]:
    """A trace context (the current one by default) as Kafka message headers (W3C traceparent/tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    return [(k, v.encode()) for k, v in carrier.items()]


def extract_context(headers: Mapping[str, str]) -> context.Context:
    """The trace context a producer put into Kafka headers (empty context if none)."""
    return propagate.extract(dict(headers))


def with_trace_headers(headers: Iterable[tuple[str, bytes]], span: trace.Span) -> list[tuple[str, bytes]]:
    """``headers`` with the trace context replaced by ``span``'s (no duplicate ``traceparent``)."""
    ours = inject_headers(trace.set_span_in_context(span))
    replaced = {key for key, _ in ours} | ({"traceparent", "tracestate"} if ours else set())
    return [(k, v) for k, v in headers if k not in replaced] + ours

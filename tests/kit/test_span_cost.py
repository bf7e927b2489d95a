"""Spans nobody records are not built, yet keep the trace ids and flags the SDK would give them."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.kit import telemetry
from services.kit.telemetry import KitTracerProvider, context_from_metadata, start_span

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SAMPLED = f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01"
UNSAMPLED = f"00-{TRACE_ID:032x}-00f067aa0ba902b7-00"


@pytest.fixture
def provider(monkeypatch) -> KitTracerProvider:
    """A provider of its own, with no span processor yet, standing in for the process-wide one."""
    fresh = KitTracerProvider()
    monkeypatch.setattr(telemetry, "_provider", fresh)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: fresh)
    return fresh


def _server_span(provider: KitTracerProvider, metadata) -> trace.Span:
    return start_span(provider.get_tracer("test"), "svc/Method", parent=context_from_metadata(metadata),
                      kind=SpanKind.SERVER, attributes={"rpc.system": "grpc"})


@pytest.mark.parametrize("traceparent", [SAMPLED, UNSAMPLED])
def test_unrecorded_span_continues_the_callers_trace_with_the_sdks_flags(provider, traceparent):
    span = _server_span(provider, [("traceparent", traceparent), ("user-agent", "grpc-python")])
    sdk = provider.get_tracer("test").start_span("svc/Method", context=context_from_metadata(
        [("traceparent", traceparent)]), kind=SpanKind.SERVER)
    assert not span.is_recording()
    ours, theirs = span.get_span_context(), sdk.get_span_context()
    assert ours.trace_id == TRACE_ID and ours.span_id not in (0, 0x00F067AA0BA902B7)
    assert (ours.trace_flags, ours.trace_state, ours.is_remote) == (theirs.trace_flags, theirs.trace_state, False)


def test_a_call_without_trace_context_starts_a_sampled_trace_of_its_own(provider):
    assert context_from_metadata([("user-agent", "grpc-python"), ("bin-bin", b"\x00")]) == Context()
    span = _server_span(provider, [])
    assert span.get_span_context().is_valid and span.get_span_context().trace_flags.sampled


def test_spans_are_recorded_once_a_processor_receives_them(provider):
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = _server_span(provider, [("traceparent", SAMPLED)])
    assert span.is_recording()
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert finished.context.trace_id == TRACE_ID and finished.attributes["rpc.system"] == "grpc"

"""Spans of this test process, kept in memory so tests can read the edges of a trace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.telemetry import setup_tracing
from tests.gateway.conftest import gateway_client  # noqa: F401 - the gateway fixture, for the request traces


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span finished in this process from now on (session scope: clear it per test)."""
    exporter = InMemorySpanExporter()
    setup_tracing("test").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def wait_for_spans(exporter: InMemorySpanExporter, done: Callable[[Sequence[ReadableSpan]], bool], *,
                         timeout_s: float = 30.0) -> Sequence[ReadableSpan]:
    """Poll the exporter until ``done(finished spans)`` holds; fail with what was seen after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        finished = exporter.get_finished_spans()
        if done(finished):
            return finished
        if loop.time() > deadline:
            pytest.fail(f"spans not complete after {timeout_s} s; finished: {sorted(s.name for s in finished)}")
        await asyncio.sleep(0.1)


def attribute_texts(span: ReadableSpan) -> list[str]:
    """Everything a span carries as text: its name, status, attributes, events and links."""
    texts = [span.name, span.status.description or ""]
    texts += [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        texts += [event.name, *(str(v) for v in (event.attributes or {}).values())]
    for link in span.links:
        texts += [str(v) for v in (link.attributes or {}).values()]
    return texts

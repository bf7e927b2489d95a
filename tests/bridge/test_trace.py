"""A SIMRS request is one trace from the bridge into the partner service, named by the route
template: the NIK or NOKA in the path is in no span."""

from __future__ import annotations

import asyncio
import time

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.telemetry import setup_tracing
from tests import factories
from tests.bridge.conftest import code_of

BUDI = factories.BUDI


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    setup_tracing("test").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_a_participant_lookup_is_one_trace_without_the_nik(world, spans):
    spans.clear()
    answer = await world.get(f"Peserta/nik/{BUDI.nik}/tglSEP/{time.strftime('%Y-%m-%d')}", service="vclaim")
    assert code_of(answer) == 200
    route = "GET /vclaim-rest/Peserta/nik/{nik}/tglSEP/{tanggal}"
    rpc = "jkn.membership.v1.PartnerMembershipService/CheckEligibility"
    for _ in range(100):
        finished = spans.get_finished_spans()
        if {route, rpc} <= {s.name for s in finished}:
            break
        await asyncio.sleep(0.05)
    by_name = {s.name: s for s in finished}
    server, client = by_name[route], by_name[rpc]
    assert client.context.trace_id == server.context.trace_id
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    for span in finished:
        texts = [span.name, *(str(v) for v in (span.attributes or {}).values())]
        assert not any(BUDI.nik in text for text in texts), span.name

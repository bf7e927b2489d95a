"""One trace crosses gRPC (metadata) and Kafka (headers), with parent→child edges intact."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.channels import open_channel
from services.kit.consumer import PROCESSED_EVENTS_DDL_V1, Event, IdempotentConsumer
from services.kit.grpc_server import GrpcServer, Servicer
from services.kit.kafka import KIT_SELFTEST
from services.kit.outbox import OUTBOX_DDL_V1, OutboxRelay, add_event
from services.kit.telemetry import setup_tracing

SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]
tracer = trace.get_tracer("test")


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    setup_tracing("test").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class Echo(notify_pb2_grpc.NotifyServiceServicer):
    async def GetOtp(self, request, context):
        with tracer.start_as_current_span("inside_handler"):
            return notify_pb2.GetOtpResponse()


async def test_grpc_call_continues_the_callers_trace(spans):
    spans.clear()
    server = GrpcServer([Servicer(Echo(), notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                        host="127.0.0.1", port=0)
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", [SERVICE])
    try:
        with tracer.start_as_current_span("gateway_request") as root:
            await notify_pb2_grpc.NotifyServiceStub(channel).GetOtp(notify_pb2.GetOtpRequest(verification_id="v"))
    finally:
        await channel.close()
        await server.stop(grace_s=0)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    client = by_name["jkn.notify.v1.NotifyService/GetOtp"]
    server_span = next(s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER)
    inner = by_name["inside_handler"]
    trace_id = root.get_span_context().trace_id
    assert {client.context.trace_id, server_span.context.trace_id, inner.context.trace_id} == {trace_id}
    assert client.parent.span_id == root.get_span_context().span_id
    assert server_span.parent.span_id == client.context.span_id
    assert inner.parent.span_id == server_span.context.span_id


async def test_kafka_consumer_span_is_parented_from_the_producers_trace(spans, fresh_database, broker):
    """place_order → (outbox row) → PRODUCER span of the relay → CONSUMER span → the handler's span;
    the relay's own context (here: a span around it) is not the producer's parent."""
    pool = await asyncpg.create_pool(fresh_database("tracing"), min_size=1, max_size=4)
    bootstrap = f"127.0.0.1:{broker.port}"
    await pool.execute(OUTBOX_DDL_V1 + PROCESSED_EVENTS_DDL_V1)
    spans.clear()
    try:
        with tracer.start_as_current_span("place_order") as origin:
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, topic=KIT_SELFTEST, event_type="traced", key="trace-test", payload=b"{}")
        relay = OutboxRelay(pool, bootstrap)
        with tracer.start_as_current_span("relay_tick"):
            assert await relay.relay_once() == 1
        await relay._drop_producer()

        reader = AIOKafkaConsumer(KIT_SELFTEST, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await reader.start()
        try:
            records = [r for batch in (await reader.getmany(timeout_ms=5000)).values() for r in batch]
        finally:
            await reader.stop()
        record = next(r for r in records if dict(r.headers).get("event_type") == b"traced")

        async def handler(event: Event, conn: asyncpg.Connection) -> None:
            with tracer.start_as_current_span("deliver"):
                pass

        consumer = IdempotentConsumer(pool=pool, bootstrap=bootstrap, topic=KIT_SELFTEST, group="trace",
                                      handler=handler)
        assert await consumer.handle(Event.from_record(record)) == "handled"
    finally:
        await pool.close()
    by_name = {s.name: s for s in spans.get_finished_spans()}
    producer, processing = by_name["kit.selftest publish"], by_name["kit.selftest process"]
    assert producer.kind == SpanKind.PRODUCER and processing.kind == SpanKind.CONSUMER
    trace_id = origin.get_span_context().trace_id
    assert producer.context.trace_id == processing.context.trace_id == trace_id
    assert producer.parent.span_id == origin.get_span_context().span_id
    assert processing.parent.span_id == producer.context.span_id
    assert by_name["deliver"].parent.span_id == processing.context.span_id
    assert by_name["relay_tick"].context.trace_id != trace_id
    assert processing.attributes["messaging.destination.name"] == KIT_SELFTEST
    assert processing.attributes["messaging.consumer.group.name"] == "trace"
    assert processing.attributes["jkn.consumer.result"] == "handled"
    assert "messaging.kafka.message.key" not in processing.attributes  # keys may be card numbers

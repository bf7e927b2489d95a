"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a process exports its spans over OTLP/gRPC: a real
OTLP receiver (the collector's TraceService) gets them, named by service."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from services.kit.startup import StartupError
from services.kit.telemetry import otlp_exporter

PROCESS = textwrap.dedent("""
    from opentelemetry import trace
    from services.kit.telemetry import setup_tracing, shutdown_tracing

    setup_tracing("probe")
    with trace.get_tracer("probe").start_as_current_span("otlp_probe"):
        pass
    shutdown_tracing()  # flushes the batch before the process ends
""")


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    async def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_spans_go_to_the_otlp_endpoint_when_one_is_set():
    receiver = Receiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", PROCESS, env=env,
                                                       stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stderr.decode()
    finally:
        await server.stop(grace=None)
    exported = [(resource.resource, span) for request in receiver.requests for resource in request.resource_spans
                for scope in resource.scope_spans for span in scope.spans]
    assert [span.name for _, span in exported] == ["otlp_probe"]
    resource = {a.key: a.value.string_value for a in exported[0][0].attributes}
    assert resource["service.name"] == "jkn-probe" and resource["service.namespace"] == "jkn"


def test_an_unsupported_otlp_protocol_is_one_clear_startup_error(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(StartupError, match="not supported"):
        otlp_exporter()

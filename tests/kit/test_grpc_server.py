"""The kit's gRPC server: errors as status codes, health, reflection, metrics, graceful stop."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.channels import open_channel
from services.kit.errors import DomainError, decode_rpc_error
from services.kit.grpc_server import GrpcServer, Servicer

SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]


class ProbeServicer(notify_pb2_grpc.NotifyServiceServicer):
    """A servicer whose RPCs behave as the tests need: slow, failing, crashing."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def GetOtp(self, request, context):
        self.started.set()
        await self.release.wait()
        return notify_pb2.GetOtpResponse(verification=notify_pb2.Verification(verification_id=request.verification_id))

    async def CancelOtp(self, request, context):
        raise DomainError("code no longer valid", code="OTP_ATTEMPTS_EXCEEDED", retry_after=42, attempts_left=0)

    async def ResendOtp(self, request, context):
        raise RuntimeError("bug while handling 3171011501800001")

    async def CheckOtp(self, request, context):
        raise ConnectionRefusedError("redis down")


@pytest.fixture
async def probe():
    servicer = ProbeServicer()
    server = GrpcServer([Servicer(servicer, notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                        host="127.0.0.1", port=0)
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", [SERVICE], timeout_s=5)
    yield servicer, server, channel
    await channel.close()
    await server.stop(grace_s=0)


async def test_domain_error_travels_as_status_with_reason_and_fields(probe):
    _, _, channel = probe
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await notify_pb2_grpc.NotifyServiceStub(channel).CancelOtp(notify_pb2.CancelOtpRequest())
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    remote = decode_rpc_error(caught.value)
    assert remote.code == "OTP_ATTEMPTS_EXCEEDED"
    assert remote.fields == {"retry_after": 42, "attempts_left": 0}
    assert remote.http_status == 429


async def test_unexpected_exception_is_internal_without_its_message(probe, caplog):
    _, _, channel = probe
    with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as caught:
        await notify_pb2_grpc.NotifyServiceStub(channel).ResendOtp(notify_pb2.ResendOtpRequest())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "3171011501800001" not in (caught.value.details() or "")
    assert decode_rpc_error(caught.value).code == "INTERNAL"
    assert any(r.getMessage() == "rpc_crashed" for r in caplog.records)


async def test_dependency_failure_is_unavailable_dependency_unavailable(probe):
    _, _, channel = probe
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await notify_pb2_grpc.NotifyServiceStub(channel).CheckOtp(notify_pb2.CheckOtpRequest())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    remote = decode_rpc_error(caught.value)
    assert (remote.code, remote.http_status) == ("DEPENDENCY_UNAVAILABLE", 503)
    assert remote.fields["retry_after"] >= 1


async def test_health_and_reflection_are_served(probe):
    _, _, channel = probe
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE.full_name):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = set()
    async for response in responses:
        names = {s.name for s in response.list_services_response.service}
    assert {SERVICE.full_name, "grpc.health.v1.Health"} <= names


async def test_every_rpc_is_counted_and_timed_by_method_and_code(probe):
    _, _, channel = probe
    labels = {"grpc_service": SERVICE.full_name, "grpc_method": "CancelOtp", "grpc_code": "RESOURCE_EXHAUSTED"}
    before = REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0
    with pytest.raises(grpc.aio.AioRpcError):
        await notify_pb2_grpc.NotifyServiceStub(channel).CancelOtp(notify_pb2.CancelOtpRequest())
    assert REGISTRY.get_sample_value("grpc_server_handled_total", labels) == before + 1
    count = REGISTRY.get_sample_value("grpc_server_handling_seconds_count",
                                      {"grpc_service": SERVICE.full_name, "grpc_method": "CancelOtp"})
    assert count and count >= 1


async def test_graceful_stop_turns_health_not_serving_and_drains_in_flight_call(probe):
    servicer, server, channel = probe
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    in_flight = asyncio.ensure_future(stub.GetOtp(notify_pb2.GetOtpRequest(verification_id="v-1"), timeout=10))
    await asyncio.wait_for(servicer.started.wait(), 5)

    stopping = asyncio.create_task(server.stop(grace_s=5, drain_delay_s=0.5))
    await asyncio.sleep(0.1)
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING

    await asyncio.sleep(0.6)  # the port is closing now; the in-flight call is still allowed to finish
    assert not in_flight.done()
    servicer.release.set()
    response = await asyncio.wait_for(in_flight, 5)
    assert response.verification.verification_id == "v-1"
    await asyncio.wait_for(stopping, 5)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetOtp(notify_pb2.GetOtpRequest(), timeout=1)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_taken_port_is_a_one_line_startup_error(probe):
    from services.kit.startup import StartupError

    _, server, _ = probe
    other = GrpcServer([], host="127.0.0.1", port=server.port)
    with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        await other.start()


class RelayServicer(notify_pb2_grpc.NotifyServiceServicer):
    """A service in front of the probe: each RPC asks the probe's and lets its failure propagate."""

    def __init__(self, peer: notify_pb2_grpc.NotifyServiceStub) -> None:
        self.peer = peer

    async def CancelOtp(self, request, context):  # the probe refuses with a domain error
        return await self.peer.CancelOtp(request)

    async def ResendOtp(self, request, context):  # the probe crashes
        return await self.peer.ResendOtp(request)

    async def CheckOtp(self, request, context):  # the probe's dependency is down
        return await self.peer.CheckOtp(request)


async def test_a_peers_refusal_reaches_the_caller_with_its_code_and_fields(probe):
    _, _, probe_channel = probe
    relay = GrpcServer([Servicer(RelayServicer(notify_pb2_grpc.NotifyServiceStub(probe_channel)),
                                 notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                       host="127.0.0.1", port=0)
    await relay.start()
    channel = open_channel(f"127.0.0.1:{relay.port}", [SERVICE], timeout_s=5)
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    try:
        answers = []
        for call in (stub.CancelOtp(notify_pb2.CancelOtpRequest()), stub.ResendOtp(notify_pb2.ResendOtpRequest()),
                     stub.CheckOtp(notify_pb2.CheckOtpRequest())):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            answers.append(decode_rpc_error(caught.value))
    finally:
        await channel.close()
        await relay.stop(grace_s=0)
    refused, crashed, unavailable = answers
    assert (refused.code, refused.http_status, refused.fields) == (
        "OTP_ATTEMPTS_EXCEEDED", 429, {"retry_after": 42, "attempts_left": 0})
    assert (crashed.code, crashed.grpc_status) == ("INTERNAL", grpc.StatusCode.INTERNAL)  # a peer's bug stays one
    assert (unavailable.code, unavailable.http_status) == ("DEPENDENCY_UNAVAILABLE", 503)
    assert "3171011501800001" not in crashed.detail


async def test_every_call_has_an_access_log_line_with_its_code_and_reason(probe, caplog):
    servicer, _, channel = probe
    servicer.release.set()
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    with caplog.at_level(logging.INFO, logger="jkn.rpc"):
        await stub.GetOtp(notify_pb2.GetOtpRequest(verification_id="v-2"))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CancelOtp(notify_pb2.CancelOtpRequest())
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    lines = [(r.rpc, r.grpc_code, r.reason, r.levelno) for r in caplog.records if r.getMessage() == "rpc_handled"]
    assert lines == [(f"{SERVICE.full_name}/GetOtp", "OK", None, logging.INFO),
                     (f"{SERVICE.full_name}/CancelOtp", "RESOURCE_EXHAUSTED", "OTP_ATTEMPTS_EXCEEDED", logging.INFO)]

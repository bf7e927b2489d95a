"""Client channels: a deadline on every call; retries only for side-effect-free methods, only on UNAVAILABLE."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.channels import idempotent_methods, open_channel
from services.kit.grpc_server import GrpcServer, Servicer

SERVICE = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]


class FlakyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def _flaky(self, name: str, context, failures: int, code=grpc.StatusCode.UNAVAILABLE) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= failures:
            await context.abort(code, "try again")

    async def GetOtp(self, request, context):  # NO_SIDE_EFFECTS in the proto
        await self._flaky("GetOtp", context, failures=2)
        return notify_pb2.GetOtpResponse()

    async def ListDevOutbox(self, request, context):  # NO_SIDE_EFFECTS, but fails with another code
        await self._flaky("ListDevOutbox", context, failures=1, code=grpc.StatusCode.INTERNAL)
        return notify_pb2.ListDevOutboxResponse()

    async def IssueOtp(self, request, context):  # has side effects: must never be retried
        await self._flaky("IssueOtp", context, failures=1)
        return notify_pb2.IssueOtpResponse()

    async def CancelOtp(self, request, context):
        await asyncio.sleep(5)
        return notify_pb2.CancelOtpResponse()


@pytest.fixture
async def flaky():
    servicer = FlakyServicer()
    server = GrpcServer([Servicer(servicer, notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                        host="127.0.0.1", port=0)
    await server.start()
    channel = open_channel(f"127.0.0.1:{server.port}", [SERVICE], timeout_s=0.5)
    yield servicer, notify_pb2_grpc.NotifyServiceStub(channel)
    await channel.close()
    await server.stop(grace_s=0)


def test_only_methods_marked_free_of_side_effects_are_retryable():
    names = {m["method"] for m in idempotent_methods([SERVICE])}
    assert {"GetOtp", "ListDevOutbox"} <= names
    assert not names & {"IssueOtp", "ResendOtp", "CheckOtp", "CancelOtp", "SendNotification"}


async def test_safe_method_is_retried_on_unavailable(flaky):
    servicer, stub = flaky
    await stub.GetOtp(notify_pb2.GetOtpRequest())
    assert servicer.calls["GetOtp"] == 3


async def test_safe_method_is_not_retried_on_other_codes(flaky):
    servicer, stub = flaky
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert servicer.calls["ListDevOutbox"] == 1


async def test_method_with_side_effects_is_never_retried(flaky):
    servicer, stub = flaky
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.IssueOtp(notify_pb2.IssueOtpRequest())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["IssueOtp"] == 1


async def test_call_without_deadline_gets_the_channel_default(flaky):
    _, stub = flaky
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CancelOtp(notify_pb2.CancelOtpRequest())
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2



class CountingServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self) -> None:
        self.calls = 0

    async def GetOtp(self, request, context):
        self.calls += 1
        return notify_pb2.GetOtpResponse()


async def test_calls_are_spread_round_robin_over_every_address_of_the_name():
    servicers = [CountingServicer(), CountingServicer()]
    servers = [GrpcServer([Servicer(s, notify_pb2_grpc.add_NotifyServiceServicer_to_server, SERVICE.full_name)],
                          host="127.0.0.1", port=0) for s in servicers]
    for server in servers:
        await server.start()
    # Two addresses behind one target, as a headless Service's DNS name gives two pods.
    channel = open_channel(f"ipv4:127.0.0.1:{servers[0].port},127.0.0.1:{servers[1].port}", [SERVICE])
    try:
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        for _ in range(40):
            await stub.GetOtp(notify_pb2.GetOtpRequest())
    finally:
        await channel.close()
        for server in servers:
            await server.stop(grace_s=0)
    assert sorted(s.calls for s in servicers)[0] >= 10, [s.calls for s in servicers]  # pick_first: 0 and 40

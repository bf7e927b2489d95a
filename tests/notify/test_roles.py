"""Notify split by role, as the chart deploys it: the API queues sends, only a worker delivers them."""

from __future__ import annotations

import asyncio
import random
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.notify.app import build
from services.notify.settings import NotifySettings
from tests.kit.test_runtime import listed_services

PURPOSE = notify_pb2.OTP_PURPOSE_REGISTRATION


async def _outbox(stub: notify_pb2_grpc.NotifyServiceStub, number: str) -> list[str]:
    reply = await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=number), timeout=5)
    return [item.code for item in reply.items]


async def test_the_api_queues_sends_and_only_a_worker_delivers_them(service, fresh_database):
    dsn = fresh_database("notify_roles")
    number = f"+6281277{random.randrange(10**6):06d}"
    async with (service(NotifySettings, build, role="api", database_url=dsn) as api,
                grpc.aio.insecure_channel(api.address) as api_channel):
        stub = notify_pb2_grpc.NotifyServiceStub(api_channel)
        issued = await stub.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=PURPOSE, flow_id="roles-1", channel=common_pb2.CHANNEL_SMS, destination=number,
            client_ip="127.0.0.1"), timeout=5)
        verification_id = issued.verification.verification_id
        await asyncio.sleep(2)  # an API alone relays and delivers nothing
        assert await _outbox(stub, number) == []

        async with (service(NotifySettings, build, role="worker", database_url=dsn) as worker,
                    grpc.aio.insecure_channel(worker.address) as worker_channel):
            health = health_pb2_grpc.HealthStub(worker_channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert "jkn.notify.v1.NotifyService" not in await listed_services(worker_channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await notify_pb2_grpc.NotifyServiceStub(worker_channel).GetOtp(
                    notify_pb2.GetOtpRequest(verification_id=verification_id), timeout=2)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED

            deadline = time.monotonic() + 30
            codes = await _outbox(stub, number)
            while not codes and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                codes = await _outbox(stub, number)
        assert len(codes) == 1, "the worker delivers the send the API queued before it started, once"
        checked = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
            verification_id=verification_id, code=codes[0], purpose=PURPOSE, flow_id="roles-1"), timeout=5)
        assert checked.result == notify_pb2.CHECK_OTP_RESULT_APPROVED


def test_an_unknown_role_is_refused_at_start():
    with pytest.raises(ValueError, match="role"):
        NotifySettings(env="test", role="both")

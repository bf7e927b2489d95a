"""A third channel as a plug-in (services/notify/channels.py, whatsapp.py): with a WhatsApp
Business-style API configured, a code goes out on it through the same engine (a local HTTP peer
stands in for the provider), with its delivery status; without one the channel is refused."""

from __future__ import annotations

import asyncio
import re

import grpc
import pytest
from pydantic import SecretStr

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.notify.app import build
from services.notify.settings import NotifySettings
from tests.notify.test_delivery import SmsSink, eventually

NUMBER = "081234509877"  # used by no other test


def issue(flow: str) -> notify_pb2.IssueOtpRequest:
    return notify_pb2.IssueOtpRequest(purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=flow,
                                      channel=common_pb2.CHANNEL_WHATSAPP, destination=NUMBER, client_ip="10.9.8.7")


async def test_a_code_goes_out_by_whatsapp_with_its_delivery_status(service):
    sink = SmsSink()
    try:
        async with (service(NotifySettings, build, whatsapp_api_url=sink.url,
                            whatsapp_api_token=SecretStr("wa-test-token")) as running,
                    grpc.aio.insecure_channel(running.address) as channel):
            stub = notify_pb2_grpc.NotifyServiceStub(channel)
            issued = (await stub.IssueOtp(issue("flow-wa"))).verification
            assert (issued.channel, issued.destination_masked, issued.expires_in_s) == (
                common_pb2.CHANNEL_WHATSAPP, "+62812****9877", 300)
            message = await eventually(lambda: next((m for m in sink.received if m["to"] == "6281234509877"), None))
            assert message["messaging_product"] == "whatsapp" and message["auth"] == "Bearer wa-test-token"
            code = re.search(r"\b(\d{6})\b", message["text"]["body"]).group(1)

            async def sent() -> bool:
                got = await stub.GetOtp(notify_pb2.GetOtpRequest(verification_id=issued.verification_id))
                return got.verification.delivery_status == common_pb2.OTP_DELIVERY_STATUS_SENT

            for _ in range(100):
                if await sent():
                    break
                await asyncio.sleep(0.1)
            assert await sent()
            checked = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=issued.verification_id, code=code, purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
                flow_id="flow-wa"))
            assert checked.result == notify_pb2.CHECK_OTP_RESULT_APPROVED
    finally:
        sink.close()


async def test_without_a_provider_the_channel_is_refused(service):
    async with (service(NotifySettings, build) as running, grpc.aio.insecure_channel(running.address) as channel):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await notify_pb2_grpc.NotifyServiceStub(channel).IssueOtp(issue("flow-no-wa"))
    assert decode_rpc_error(refused.value).code == "VALIDATION_ERROR"

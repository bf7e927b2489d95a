"""Notify's dev outbox: what `GET /dev/outbox` shows, newest first; absent in prod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from pydantic import SecretStr

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.notify import store
from services.notify.app import build
from services.notify.settings import NotifySettings


async def test_outbox_lists_messages_for_one_recipient_newest_first(service):
    async with service(NotifySettings, build) as running:
        pool = await asyncpg.create_pool(running.settings.database_url, min_size=1, max_size=2)
        base = datetime.now(UTC).replace(microsecond=0)
        await store.add_dev_outbox(pool, channel="sms", recipient="+6281234500006", subject="",
                                   body="Kode 111111", code="111111", at=base)
        await store.add_dev_outbox(pool, channel="sms", recipient="+6281234500006", subject="",
                                   body="Kode 222222", code="222222", at=base + timedelta(minutes=1))
        await store.add_dev_outbox(pool, channel="email", recipient="dewi.lestari@example.id", subject="Akun aktif",
                                   body="Selamat", code=None, at=base)
        await pool.close()
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = notify_pb2_grpc.NotifyServiceStub(channel)
            sms = await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to="081234500006"))
            assert [i.code for i in sms.items] == ["222222", "111111"]
            assert sms.items[0].channel == common_pb2.CHANNEL_SMS
            mail = await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to="Dewi.Lestari@example.id"))
            assert len(mail.items) == 1 and not mail.items[0].HasField("code")
            assert (await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to="x"))).items == []


async def test_outbox_does_not_exist_in_prod(service):
    secrets = {name: SecretStr("prod-like-secret") for name in ("otp_code_keys", "smtp_password", "sms_gateway_token",
                                                                   "sms_callback_secret")}
    async with (service(NotifySettings, build, env="prod", **secrets) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await notify_pb2_grpc.NotifyServiceStub(channel).ListDevOutbox(notify_pb2.ListDevOutboxRequest())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert decode_rpc_error(caught.value).code == "NOT_FOUND"

"""Registration rule 6: a lost email verification code is sent again and still confirms the email
(real auth and notify; the code read from the mail that reached the SMTP sink)."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.common.v1 import common_pb2
from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.kit.errors import decode_rpc_error
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from tests.factories import RUDI

RUDI_EMAIL = "rudi.hartono@example.id"  # demo data: not verified yet, and no code pending


async def _mailed_code(smtp_sink, to: str) -> str:
    for _ in range(150):
        for message in reversed(smtp_sink.messages):
            if message["To"] == to and (found := re.search(r"\b(\d{6})\b", message.get_payload())):
                return found.group(1)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no code was mailed to {to}")


async def test_a_lost_email_code_is_sent_again_and_confirms_the_email(service, smtp_sink):
    async with (service(NotifySettings, build_notify, smtp_port=smtp_sink.port) as notify,
                service(AuthSettings, build_auth, seed_demo_data=True, notify_addr=notify.address) as auth,
                grpc.aio.insecure_channel(auth.address) as auth_channel):
        accounts = auth_pb2_grpc.AuthServiceStub(auth_channel)
        account_id = await _account_id(auth.settings.database_url, RUDI.noka)
        sent = await accounts.ResendEmailVerification(auth_pb2.ResendEmailVerificationRequest(account_id=account_id))
        assert sent.otp.channel == common_pb2.CHANNEL_EMAIL and sent.otp.destination_masked == "r***@example.id"
        assert sent.otp.expires_in_s == 600
        code = await _mailed_code(smtp_sink, RUDI_EMAIL)
        await accounts.VerifyEmail(auth_pb2.VerifyEmailRequest(account_id=account_id, code=code))
        account = (await accounts.GetAccount(auth_pb2.GetAccountRequest(account_id=account_id))).account
        assert account.email_verified
        with pytest.raises(grpc.aio.AioRpcError) as nothing_left:
            await accounts.ResendEmailVerification(auth_pb2.ResendEmailVerificationRequest(account_id=account_id))
    assert decode_rpc_error(nothing_left.value).code == "NOT_FOUND"


async def _account_id(dsn: str, noka: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT id FROM accounts WHERE noka = $1", noka))
    finally:
        await conn.close()

"""Registration against real services: a lost email verification code is sent again and still
confirms the email (rule 6; the code read from the mail that reached the SMTP sink); an email
another account has is refused before any code is sent, or before the code is spent (rules 2,
4); a conflict never completes a registration without an account; the activation stands when
the email code cannot be sent (rule 5)."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.kit.errors import decode_rpc_error
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from tests.auth.conftest import answer, sql
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


async def test_an_email_code_asked_again_inside_the_cooldown_is_notifys_429_with_retry_after(service, smtp_sink):
    """CONTRACT.md §7 "Errors across services" on the route behind POST /v1/me/email/resend:
    notify's cooldown reaches the caller as notify gave it, never as INTERNAL."""
    email = f"rudi.{uuid.uuid4().hex[:10]}@example.id"  # a destination no other test has used
    async with (service(NotifySettings, build_notify, smtp_port=smtp_sink.port) as notify,
                service(AuthSettings, build_auth, seed_demo_data=True, notify_addr=notify.address) as auth,
                grpc.aio.insecure_channel(auth.address) as auth_channel):
        accounts = auth_pb2_grpc.AuthServiceStub(auth_channel)
        await sql(auth.settings.database_url, "UPDATE accounts SET email = $1 WHERE noka = $2", email, RUDI.noka)
        request = auth_pb2.ResendEmailVerificationRequest(
            account_id=await _account_id(auth.settings.database_url, RUDI.noka))
        first = await answer(accounts.ResendEmailVerification(request))
        again = await answer(accounts.ResendEmailVerification(request))
    assert first.code == "ok"
    assert again.code == "OTP_RESEND_TOO_SOON" and 0 < int(again.fields["retry_after"]) <= 60
    assert again.wire[0] == grpc.StatusCode.RESOURCE_EXHAUSTED


async def _account_id(dsn: str, noka: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT id FROM accounts WHERE noka = $1", noka))
    finally:
        await conn.close()


# --- email in use (CONTRACT.md §3 "login identifiers") ---------------------------------------

BUDI = {"identifier": "3171011501800001", "birth_date": "1980-01-15", "password": "Keluarga#Sehat1"}


def new_phone() -> str:
    """A number no other test sends to (notify's per-number caps live in the shared Redis)."""
    return f"+62812{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture
async def activation(service, smtp_sink):
    """Notify, membership (demo participants) and auth (demo accounts), wired."""
    async with (service(NotifySettings, build_notify, smtp_port=smtp_sink.port) as notify,
                service(MembershipSettings, build_membership, seed_demo_data=True) as membership,
                service(AuthSettings, build_auth, seed_demo_data=True, notify_addr=notify.address,
                        membership_addr=membership.address) as auth,
                grpc.aio.insecure_channel(auth.address) as auth_channel,
                grpc.aio.insecure_channel(notify.address) as notify_channel):
        yield (auth, auth_pb2_grpc.AuthServiceStub(auth_channel), notify_pb2_grpc.NotifyServiceStub(notify_channel))


async def _sms_codes(notify: notify_pb2_grpc.NotifyServiceStub, phone: str) -> list[str]:
    for _ in range(150):
        items = (await notify.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=phone))).items
        if items:
            return [i.code for i in items]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no code was sent to {phone}")


def _start(accounts: auth_pb2_grpc.AuthServiceStub, *, phone: str, email: str):
    return accounts.StartRegistration(auth_pb2.StartRegistrationRequest(**BUDI, phone=phone, email=email))


async def test_an_email_another_account_has_is_refused_before_any_code_is_sent(activation):
    _, accounts, notify = activation
    phone = new_phone()
    refused = [await answer(_start(accounts, phone=phone, email=email))
               for email in ("dewi.lestari@example.id", " Rudi.Hartono@Example.ID ")]  # verified, unverified
    started = await _start(accounts, phone=phone, email=f"budi-{uuid.uuid4().hex[:8]}@example.id")
    sent = await _sms_codes(notify, phone)
    await asyncio.sleep(1)  # anything else queued for this number would have arrived by now
    assert [(a.code, a.wire[0]) for a in refused] == [("EMAIL_IN_USE", grpc.StatusCode.ALREADY_EXISTS)] * 2
    assert started.registration_id and len(sent) == 1
    assert len((await notify.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=phone))).items) == 1


async def test_an_email_taken_meanwhile_is_refused_before_the_code_is_spent(activation):
    auth, accounts, notify = activation
    phone, email = new_phone(), f"budi-{uuid.uuid4().hex[:8]}@example.id"
    started = await _start(accounts, phone=phone, email=email)
    (code,) = await _sms_codes(notify, phone)
    dsn = auth.settings.database_url
    await sql(dsn, "UPDATE accounts SET email = $1 WHERE noka = $2", email, RUDI.noka)  # someone took it
    taken = await answer(accounts.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=started.registration_id, code=code)))
    await sql(dsn, "UPDATE accounts SET email = $1 WHERE noka = $2", RUDI_EMAIL, RUDI.noka)
    verified = await accounts.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=started.registration_id.upper(), code=code))  # any spelling of the id
    assert taken.code == "EMAIL_IN_USE"
    assert verified.account_id == await sql(dsn, "SELECT id::text FROM accounts WHERE noka = '0001234567801'")


async def test_a_participant_whose_account_appeared_meanwhile_is_refused_and_nothing_is_completed(activation):
    auth, accounts, notify = activation
    phones = new_phone(), new_phone()
    first, second = [await _start(accounts, phone=phone, email="") for phone in phones]
    (first_code,), (second_code,) = [await _sms_codes(notify, phone) for phone in phones]
    await accounts.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=first.registration_id, code=first_code))
    late = await answer(accounts.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=second.registration_id, code=second_code)))
    status = await sql(auth.settings.database_url, "SELECT status FROM registrations WHERE id = $1::uuid",
                       second.registration_id)
    assert late.code == "ALREADY_REGISTERED" and status == "PENDING_VERIFICATION"


async def test_the_activation_succeeds_when_the_email_code_cannot_be_sent(activation):
    auth, accounts, notify = activation
    phone = new_phone()
    started = await _start(accounts, phone=phone, email="budi@localhost")  # notify refuses this address
    (code,) = await _sms_codes(notify, phone)
    verified = await accounts.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=started.registration_id, code=code))
    account = (await accounts.GetAccount(auth_pb2.GetAccountRequest(account_id=verified.account_id))).account
    resend = await answer(accounts.ResendEmailVerification(auth_pb2.ResendEmailVerificationRequest(
        account_id=verified.account_id)))
    assert account.email_masked and not account.email_verified
    assert resend.code in {"VALIDATION_ERROR", "DESTINATION_NOT_ALLOWED"}  # notify's own refusal, not a 500

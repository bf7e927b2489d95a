"""Getting in when SMS fails, through the gateway against real services (CONTRACT.md §7): an SMS to
an unreachable number shows FAILED on GET /v1/registrations/{id}, the same code then goes by email
and completes the registration; the SMS gateway's delivery reports are signed and idempotent; an
account recovery runs end to end with a short cooling-off, a cancelled one never applies, and an
unknown identity answers exactly like a real one given wrong codes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.auth.app import build as build_auth
from services.auth.lockout import key_of
from services.auth.recoveries import cap_subject
from services.auth.reset_codes import cap_key
from services.auth.settings import AuthSettings
from services.kit.kafka import NOTIFY_EVENTS
from services.kit.redis import open_redis
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from tests.factories import BUDI, DEWI, RUDI, SRI
from tests.notify.test_delivery import SmsSink

UNREACHABLE = "+6281299990000"  # the dev SMS provider's default dead number
PASSWORD = "Sehat#Baru2026"
SECRET = "dev-sms-callback-secret"


def unique_email(tag: str) -> str:
    """An address no other test sends to (notify's per-destination caps live in the shared Redis)."""
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.id"


def unique_phone() -> str:
    return f"+62812{uuid.uuid4().int % 10**8:08d}"


class Api:
    def __init__(self, client: httpx.AsyncClient, dsn: dict[str, str], bootstrap: str):
        self.client, self.dsn, self.bootstrap = client, dsn, bootstrap

    async def published(self, request_id: str, *, want: int, timeout_s: float = 30) -> list[str]:
        """The delivery statuses notify published on ``notify.events`` for one send."""
        consumer = AIOKafkaConsumer(NOTIFY_EVENTS, bootstrap_servers=self.bootstrap, group_id=None,
                                    auto_offset_reset="earliest")
        await consumer.start()
        found: list[str] = []
        try:
            deadline = time.monotonic() + timeout_s
            while len(found) < want and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        event = notify_pb2.OtpDeliveryStatusChanged.FromString(record.value)
                        if event.request_id == request_id:
                            found.append(common_pb2.OtpDeliveryStatus.Name(event.delivery_status).removeprefix(
                                "OTP_DELIVERY_STATUS_"))
            await asyncio.sleep(1)  # a duplicate would land now
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [common_pb2.OtpDeliveryStatus.Name(e.delivery_status).removeprefix("OTP_DELIVERY_STATUS_")
                          for e in (notify_pb2.OtpDeliveryStatusChanged.FromString(r.value) for r in records)
                          if e.request_id == request_id]
        finally:
            await consumer.stop()
        return found

    async def outbox(self, to: str, subject: str, *, timeout_s: float = 30) -> list[dict]:
        """The messages to ``to`` once one with ``subject`` arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            items = (await self.client.get("/dev/outbox", params={"to": to})).json()["items"]
            if any(i["subject"] == subject for i in items):
                return items
            await asyncio.sleep(0.2)
        raise AssertionError(f"nothing with subject {subject!r} arrived")

    async def codes(self, to: str) -> list[str]:
        items = (await self.client.get("/dev/outbox", params={"to": to})).json()["items"]
        return [i["code"] for i in items if i.get("code")]

    async def code_for(self, to: str, *, timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if codes := await self.codes(to):
                return codes[0]
            await asyncio.sleep(0.2)
        raise AssertionError("no code arrived")

    async def sql(self, service: str, statement: str, *args):
        conn = await asyncpg.connect(self.dsn[service])
        try:
            return await conn.fetchval(statement, *args)
        finally:
            await conn.close()

    async def login(self, identifier: str, password: str) -> dict[str, str]:
        reply = await self.client.post("/v1/sessions", json={"identifier": identifier, "password": password})
        assert reply.status_code == 201, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture
def api(service, gateway_client, smtp_sink):
    @asynccontextmanager
    async def open_api(notify: dict | None = None, auth: dict | None = None) -> AsyncIterator[Api]:
        async with AsyncExitStack() as stack:
            running = {
                "notify": await stack.enter_async_context(service(NotifySettings, build_notify,
                                                                        smtp_port=smtp_sink.port, **(notify or {}))),
                "membership": await stack.enter_async_context(service(MembershipSettings, build_membership,
                                                                      seed_demo_data=True)),
            }
            running["auth"] = await stack.enter_async_context(service(
                AuthSettings, build_auth, seed_demo_data=True, notify_addr=running["notify"].address,
                membership_addr=running["membership"].address, **(auth or {})))
            _, client = await stack.enter_async_context(
                gateway_client({name: r.address for name, r in running.items()}))
            yield Api(client, {name: r.settings.database_url for name, r in running.items()},
                      running["notify"].settings.kafka_bootstrap)

    return open_api


async def registration_status(api: Api, registration_id: str, want: str, *, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        reply = await api.client.get(f"/v1/registrations/{registration_id}")
        assert reply.status_code == 200, reply.text
        if reply.json()["otp"]["delivery_status"] == want or time.monotonic() > deadline:
            return reply.json()
        await asyncio.sleep(0.2)


async def test_an_unreachable_number_fails_and_the_same_code_by_email_completes_the_registration(api):
    email = unique_email("budi")
    async with api() as a:
        started = await a.client.post("/v1/registrations", json={
            "identifier": BUDI.nik, "birth_date": BUDI.birth_date, "phone": "081299990000", "email": email,
            "password": PASSWORD})
        assert started.status_code == 201, started.text
        otp = started.json()["otp"]
        assert (otp["channel"], otp["delivery_status"], otp["channels_available"]) == ("sms", "QUEUED",
                                                                                     ["sms", "email"])
        registration_id = started.json()["registration_id"]

        refused_at = time.monotonic()
        polled = await registration_status(a, registration_id, "FAILED", timeout_s=30)
        assert polled["otp"]["delivery_status"] == "FAILED" and time.monotonic() - refused_at < 30
        assert polled["status"] == "PENDING_VERIFICATION" and polled["registration_id"] == registration_id
        assert await a.codes(UNREACHABLE) == []  # the operator refused it: nothing was delivered

        resent = await a.client.post(f"/v1/registrations/{registration_id}/otp/resend", json={"channel": "email"})
        assert resent.status_code == 202, resent.text
        assert resent.json()["channel"] == "email" and resent.json()["destination_masked"].endswith("@example.id")
        assert 0 < resent.json()["expires_in"] <= 300  # the same code: the SMS lifetime goes on
        again = await a.client.post(f"/v1/registrations/{registration_id}/otp/resend", json={"channel": "email"})
        assert (again.status_code, again.json()["code"]) == (429, "OTP_RESEND_TOO_SOON")  # per destination
        code = await a.code_for(email)
        sent = await registration_status(a, registration_id, "SENT", timeout_s=30)
        assert sent["otp"]["channel"] == "email" and sent["otp"]["delivery_status"] == "SENT"

        verified = await a.client.post(f"/v1/registrations/{registration_id}/verify", json={"code": code})
        assert verified.status_code == 201, verified.text
        done = (await a.client.get(f"/v1/registrations/{registration_id}")).json()
        assert done["status"] == "COMPLETED"
        missing = await a.client.get(f"/v1/registrations/{uuid.uuid4()}")
        assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")


async def test_a_reachable_number_is_sent_and_email_is_refused_without_an_email(api):
    async with api() as a:
        started = await a.client.post("/v1/registrations", json={
            "identifier": SRI.nik, "birth_date": SRI.birth_date, "phone": unique_phone(), "password": PASSWORD})
        assert started.status_code == 201, started.text
        assert started.json()["otp"]["channels_available"] == ["sms"]
        registration_id = started.json()["registration_id"]
        polled = await registration_status(a, registration_id, "SENT", timeout_s=30)
        assert polled["otp"]["delivery_status"] == "SENT"
        by_email = await a.client.post(f"/v1/registrations/{registration_id}/otp/resend", json={"channel": "email"})
        assert (by_email.status_code, by_email.json()["code"]) == (422, "VALIDATION_ERROR")
        bad = await a.client.post(f"/v1/registrations/{registration_id}/otp/resend", json={"channel": "fax"})
        assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
        too_soon = await a.client.post(f"/v1/registrations/{registration_id}/otp/resend")
        assert (too_soon.status_code, too_soon.json()["code"]) == (429, "OTP_RESEND_TOO_SOON")


def signed(body: dict, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
                 "Content-Type": "application/json"}


async def test_delivery_reports_are_signed_idempotent_and_move_a_send_only_forwards(api):
    sink = SmsSink()
    try:
        async with api(notify={"sms_gateway_url": sink.url}) as a:
            phone = unique_phone()
            started = await a.client.post("/v1/registrations", json={
                "identifier": SRI.nik, "birth_date": SRI.birth_date, "phone": phone, "password": PASSWORD})
            registration_id = started.json()["registration_id"]
            assert (await registration_status(a, registration_id, "SENT", timeout_s=30))["otp"][
                "delivery_status"] == "SENT"
            reference = next(m["reference"] for m in sink.received if m["to"] == phone)
            report = {"reference": reference, "status": "UNDELIVERED", "timestamp": "2026-01-15T01:00:00+00:00"}

            raw, headers = signed(report, secret="not-the-secret")
            forged = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            assert (forged.status_code, forged.json()["code"]) == (401, "UNAUTHENTICATED")
            assert (await a.client.get(f"/v1/registrations/{registration_id}")).json()["otp"][
                "delivery_status"] == "SENT"

            raw, headers = signed(report)
            first = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            repeat = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            assert first.status_code == repeat.status_code == 200, first.text
            assert first.json() == {"delivery_status": "FAILED", "duplicate": False}
            assert repeat.json() == {"delivery_status": "FAILED", "duplicate": True}
            raw, headers = signed({**report, "status": "DELIVERED"})
            late = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            assert late.json() == {"delivery_status": "FAILED", "duplicate": True}  # never backwards
            assert (await a.client.get(f"/v1/registrations/{registration_id}")).json()["otp"][
                "delivery_status"] == "FAILED"

            raw, headers = signed({**report, "reference": "otp:nobody:1"})
            unknown = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
            raw, headers = signed({"reference": reference, "status": "MAYBE"})
            garbled = await a.client.post("/v1/sms-delivery-reports", content=raw, headers=headers)
            assert (garbled.status_code, garbled.json()["code"]) == (422, "VALIDATION_ERROR")
            assert await a.published(reference, want=2) == ["SENT", "FAILED"]  # each change once, in order
    finally:
        sink.close()


async def recover(a: Api, *, identifier: str, birth_date: str, new_phone: str) -> str:
    started = await a.client.post("/v1/account-recoveries", json={
        "identifier": identifier, "birth_date": birth_date, "new_phone": new_phone})
    assert started.status_code == 202, started.text
    return started.json()["recovery_id"]


async def test_a_recovery_runs_end_to_end_and_a_cancelled_one_never_applies(api):
    email, old_phone, new_phone = unique_email("dewi"), unique_phone(), unique_phone()
    async with api(auth={"recovery_delay_s": 3, "jobs_every_s": 0.3}) as a:
        await a.sql("auth", "UPDATE accounts SET email = $1, phone = $2 WHERE noka = $3", email, old_phone,
                    DEWI.noka)
        holder = await a.login(DEWI.noka, DEWI.password)

        # one the holder cancels: it never applies
        cancelled_phone = unique_phone()
        first = await recover(a, identifier=DEWI.nik, birth_date=DEWI.birth_date, new_phone=cancelled_phone)
        email_code = await a.code_for(email)
        assert (await a.client.post(f"/v1/account-recoveries/{first}/verify-email",
                                    json={"code": email_code})).status_code == 202
        sms_code = await a.code_for(cancelled_phone)
        scheduled = await a.client.post(f"/v1/account-recoveries/{first}/verify-phone", json={"code": sms_code})
        assert scheduled.status_code == 202, scheduled.text
        listed = (await a.client.get("/v1/me/account-recoveries", headers=holder)).json()["items"]
        assert [(r["recovery_id"], r["status"]) for r in listed] == [(first, "SCHEDULED")]
        assert listed[0]["new_phone_masked"] != cancelled_phone and listed[0]["effective_at"]
        notices = await a.outbox(old_phone, "Permintaan pemulihan akun")
        assert all(cancelled_phone not in n["body"] for n in notices)
        assert any("batalkan" in n["body"] for n in notices)  # the old phone is told how to stop it
        await a.outbox(email, "Permintaan pemulihan akun")  # and so is the email
        assert (await a.client.post(f"/v1/me/account-recoveries/{first}/cancel", headers=holder)).status_code == 204
        again = await a.client.post(f"/v1/me/account-recoveries/{first}/cancel", headers=holder)
        assert (again.status_code, again.json()["code"]) == (404, "NOT_FOUND")
        assert (await a.client.get("/v1/me/account-recoveries", headers=holder)).json()["items"] == []

        # one that runs: after the cooling-off the phone is replaced and every session ends
        second = await recover(a, identifier=DEWI.noka, birth_date=DEWI.birth_date, new_phone="0" + new_phone[3:])
        deadline = time.monotonic() + 30
        while len(await a.codes(email)) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        email_code = (await a.codes(email))[0]
        assert (await a.client.post(f"/v1/account-recoveries/{second}/verify-email",
                                    json={"code": email_code})).status_code == 202
        sms_code = await a.code_for(new_phone)
        scheduled = await a.client.post(f"/v1/account-recoveries/{second}/verify-phone", json={"code": sms_code})
        assert scheduled.status_code == 202 and scheduled.json()["effective_at"]
        assert await a.sql("auth", "SELECT phone FROM accounts WHERE noka = $1", DEWI.noka) == old_phone
        deadline = time.monotonic() + 30
        while await a.sql("auth", "SELECT phone FROM accounts WHERE noka = $1", DEWI.noka) != new_phone:
            assert time.monotonic() < deadline, "the recovery was not applied"
            await asyncio.sleep(0.2)
        assert (await a.client.get("/v1/me", headers=holder)).status_code == 401  # every session ended
        await a.outbox(new_phone, "Akun dipulihkan")  # the new phone is told
        status = await a.sql("auth", "SELECT status FROM account_recoveries WHERE id = $1::uuid", first)
        assert status == "CANCELLED"
        assert await a.sql("auth", "SELECT count(*) FROM accounts WHERE phone = $1", cancelled_phone) == 0


async def test_an_unknown_identity_answers_exactly_like_a_real_one_given_wrong_codes(api, redis_url):
    email = unique_email("dewi")
    redis = open_redis(redis_url)  # identities that name no account count the same in every run
    for identity in (f"{DEWI.nik}|1995-08-05", f"{RUDI.noka}|{RUDI.birth_date}"):
        await redis.delete(cap_key(cap_subject(key_of(identity))))
    await redis.aclose()
    async with api() as a:
        await a.sql("auth", "UPDATE accounts SET email = $1 WHERE noka = $2", email, DEWI.noka)
        real = await recover(a, identifier=DEWI.nik, birth_date=DEWI.birth_date, new_phone=unique_phone())
        wrong_birth = await recover(a, identifier=DEWI.nik, birth_date="1995-08-05", new_phone=unique_phone())
        unknown = await recover(a, identifier=f"31710{uuid.uuid4().int % 10**11:011d}", birth_date="1990-01-01",
                                new_phone=unique_phone())
        unverified = await recover(a, identifier=RUDI.noka, birth_date=RUDI.birth_date,  # email unverified
                                   new_phone=unique_phone())
        code = await a.code_for(email)
        wrong = "000000" if code != "000000" else "111111"

        async def answers(recovery_id: str) -> list[tuple[int, str, object]]:
            out = []
            for _ in range(6):
                reply = await a.client.post(f"/v1/account-recoveries/{recovery_id}/verify-email",
                                            json={"code": wrong})
                body = reply.json()
                out.append((reply.status_code, body["code"], body.get("attempts_left")))
            return out

        expected = [(422, "OTP_INVALID", n) for n in (4, 3, 2, 1, 0)] + [(429, "OTP_ATTEMPTS_EXCEEDED", None)]
        assert await answers(real) == expected
        for other in (wrong_birth, unknown, unverified):
            assert await answers(other) == expected
        assert len(await a.codes(email)) == 1  # only the real identity got a code
        for recovery_id in (real, unknown):
            phone_step = await a.client.post(f"/v1/account-recoveries/{recovery_id}/verify-phone",
                                             json={"code": wrong})
            assert (phone_step.status_code, phone_step.json()["code"]) == (404, "NOT_FOUND")
        bad = await a.client.post("/v1/account-recoveries", json={
            "identifier": DEWI.nik, "birth_date": DEWI.birth_date, "new_phone": "12345678"})
        assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_an_account_has_at_most_one_scheduled_recovery_even_when_two_race(api):
    email = unique_email("dewi")
    async with api() as a:  # the default 24 h cooling-off: nothing applies during the test
        await a.sql("auth", "UPDATE accounts SET email = $1 WHERE noka = $2", email, DEWI.noka)
        phones = [unique_phone(), unique_phone()]
        ids = []
        for phone in phones:  # two recoveries, both codes of each at hand
            recovery_id = await recover(a, identifier=DEWI.nik, birth_date=DEWI.birth_date, new_phone=phone)
            deadline = time.monotonic() + 30
            while len(await a.codes(email)) < len(ids) + 1 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            verified = await a.client.post(f"/v1/account-recoveries/{recovery_id}/verify-email",
                                           json={"code": (await a.codes(email))[0]})
            assert verified.status_code == 202, verified.text
            ids.append(recovery_id)
        codes = [await a.code_for(phone) for phone in phones]
        answers = await asyncio.gather(*(
            a.client.post(f"/v1/account-recoveries/{rid}/verify-phone", json={"code": code})
            for rid, code in zip(ids, codes, strict=True)))
        assert sorted(r.status_code for r in answers) == [202, 409]
        assert [r.json()["code"] for r in answers if r.status_code == 409] == ["RECOVERY_PENDING"]
        holder = await a.login(DEWI.noka, DEWI.password)
        listed = (await a.client.get("/v1/me/account-recoveries", headers=holder)).json()["items"]
        assert len(listed) == 1 and listed[0]["recovery_id"] in ids
        other = await a.client.post(f"/v1/me/account-recoveries/{uuid.uuid4()}/cancel", headers=holder)
        assert (other.status_code, other.json()["code"]) == (404, "NOT_FOUND")
        anonymous = await a.client.get("/v1/me/account-recoveries")
        assert anonymous.status_code == 401


async def test_a_reset_code_that_cannot_go_by_sms_goes_to_the_verified_email_and_unknown_ones_look_alike(api):
    email = unique_email("dewi")
    async with api() as a:
        await a.sql("auth", "UPDATE accounts SET email = $1, phone = $2 WHERE noka = $3", email, UNREACHABLE,
                    DEWI.noka)
        real = (await a.client.post("/v1/password-resets", json={"identifier": DEWI.nik})).json()["reset_id"]
        unknown = (await a.client.post("/v1/password-resets", json={
            "identifier": f"31710{uuid.uuid4().int % 10**11:011d}"})).json()["reset_id"]
        deadline = time.monotonic() + 30
        while not await a.sql("auth", "SELECT verification_id FROM password_resets WHERE id = $1::uuid", real):
            assert time.monotonic() < deadline, "the reset code was not issued"
            await asyncio.sleep(0.2)
        answers = [await a.client.post(f"/v1/password-resets/{reset_id}/otp/resend", json={"channel": "email"})
                   for reset_id in (real, unknown)]
        assert [r.status_code for r in answers] == [202, 202]
        assert [sorted(r.json()) for r in answers] == [["reset_id"], ["reset_id"]]
        code = await a.code_for(email)
        assert await a.codes(UNREACHABLE) == []
        done = await a.client.post(f"/v1/password-resets/{real}/complete",
                                   json={"code": code, "new_password": "Pulih#Sehat2027"})
        assert done.status_code == 204, done.text
        assert (await a.client.post("/v1/sessions", json={"identifier": DEWI.noka,
                                                          "password": "Pulih#Sehat2027"})).status_code == 201
        missing = await a.client.post(f"/v1/password-resets/{uuid.uuid4()}/otp/resend", json={"channel": "email"})
        assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")

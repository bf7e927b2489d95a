"""Password resets against a real auth and notify (services/auth/resets.py, reset_codes.py): a reset
for an unknown identifier answers byte for byte like a real one given wrong codes; the code is
checked first; a right code with a weak password stays valid; wrong codes are capped per account
across resets; guesses are counted before they are checked, in parallel too."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import asynccontextmanager

import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.auth.app import build as build_auth
from services.auth.lockout import key_of
from services.auth.reset_codes import cap_key
from services.auth.settings import AuthSettings
from services.devstack.infra import free_port
from services.kit.redis import open_redis
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from tests.auth.conftest import Answer, answer, sql
from tests.factories import DEWI, RUDI

STRONG, WEAK = "Baru#Sehat2027", "password123"
EXHAUSTED = ["OTP_INVALID"] * 5 + ["OTP_ATTEMPTS_EXCEEDED"]


def unknown_nik() -> str:
    return f"31710{uuid.uuid4().int % 10**11:011d}"


def new_phone() -> str:
    """A number no other test sends to (notify's per-number caps live in the shared Redis)."""
    return f"+62812{uuid.uuid4().int % 10**8:08d}"


class Stack:
    def __init__(self, auth: auth_pb2_grpc.AuthServiceStub, notify: notify_pb2_grpc.NotifyServiceStub | None,
                 dsn: str, redis_url: str):
        self.auth, self.notify, self.dsn, self.redis_url = auth, notify, dsn, redis_url

    async def start(self, identifier: str, *, captcha: bool = False) -> str:
        reply = await self.auth.StartPasswordReset(auth_pb2.StartPasswordResetRequest(
            identifier=identifier, captcha_passed=captcha))
        return reply.reset_id

    def complete(self, reset_id: str, code: str, password: str = STRONG):
        return answer(self.auth.CompletePasswordReset(auth_pb2.CompletePasswordResetRequest(
            reset_id=reset_id, code=code, new_password=password)))

    async def new_phone_for(self, noka: str) -> str:
        phone = new_phone()
        await sql(self.dsn, "UPDATE accounts SET phone = $1 WHERE noka = $2", phone, noka)
        return phone

    async def code_sent(self, reset_id: str, phone: str) -> str:
        """The reset's code, once notify checks it (sent, and taken over from the stand-in)."""
        assert self.notify is not None
        redis = open_redis(self.redis_url)
        try:
            for _ in range(150):
                items = (await self.notify.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=phone))).items
                codes = [i.code for i in items if i.HasField("code")]
                if codes and await redis.hget(f"auth:reset:{reset_id}", "via") == b"notify":
                    return codes[0]
                await asyncio.sleep(0.2)
        finally:
            await redis.aclose()
        raise AssertionError("no reset code was sent")


@pytest.fixture
def stack(service, redis_url):
    @asynccontextmanager
    async def open_stack(*, with_notify: bool = True, **auth_settings):
        async with service(NotifySettings, build_notify) as notify:
            address = notify.address if with_notify else f"127.0.0.1:{free_port()}"
            async with (service(AuthSettings, build_auth, seed_demo_data=True, notify_addr=address,
                                **auth_settings) as auth,
                        grpc.aio.insecure_channel(auth.address) as auth_channel,
                        grpc.aio.insecure_channel(notify.address) as notify_channel):
                yield Stack(auth_pb2_grpc.AuthServiceStub(auth_channel),
                            notify_pb2_grpc.NotifyServiceStub(notify_channel) if with_notify else None,
                            auth.settings.database_url, redis_url)

    return open_stack


def wrong_to(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def summary(answers: list[Answer]) -> list[tuple[str, object]]:
    return [(a.code, a.fields.get("attempts_left")) for a in answers]


async def test_an_unknown_identifier_answers_byte_for_byte_like_a_real_reset_given_wrong_codes(stack, redis_url):
    redis = open_redis(redis_url)  # an unverified email counts as an unknown identifier, the same in every run
    await redis.delete(cap_key(key_of("rudi.hartono@example.id")))
    await redis.aclose()
    async with stack() as s:
        phone = await s.new_phone_for(DEWI.noka)
        rudi_phone = await s.new_phone_for(RUDI.noka)
        real, unknown, unverified = (await s.start(DEWI.noka), await s.start(unknown_nik()),
                                     await s.start("rudi.hartono@example.id"))
        code = await s.code_sent(real, phone)
        # code first: a wrong code with a weak password is OTP_INVALID, never WEAK_PASSWORD
        for_real = [await s.complete(real, wrong_to(code), WEAK) for _ in range(6)]
        for_unknown = [await s.complete(unknown, wrong_to(code), WEAK) for _ in range(6)]
        for_unverified = [await s.complete(unverified, code, WEAK) for _ in range(6)]
        after = await s.complete(real, code)  # the verification died: the right code is too late
        rudi_sms = (await s.notify.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=rudi_phone))).items
    assert summary(for_real) == [("OTP_INVALID", n) for n in (4, 3, 2, 1, 0)] + [("OTP_ATTEMPTS_EXCEEDED", None)]
    assert [a.wire for a in for_unknown] == [a.wire for a in for_real] == [a.wire for a in for_unverified]
    assert after.code == "OTP_ATTEMPTS_EXCEEDED"
    assert list(rudi_sms) == []  # an unverified email names no account: nothing was sent


async def test_a_reset_whose_code_was_not_sent_answers_like_an_unknown_one(stack):
    async with stack(with_notify=False) as s:  # notify unreachable: the code cannot be sent
        real, unknown = await s.start(DEWI.nik), await s.start(unknown_nik())
        await asyncio.sleep(0.5)  # let the send fail
        for_real = [await s.complete(real, "123456") for _ in range(6)]
        for_unknown = [await s.complete(unknown, "123456") for _ in range(6)]
    assert [a.code for a in for_real] == EXHAUSTED
    assert [a.wire for a in for_real] == [a.wire for a in for_unknown]


async def test_a_right_code_with_a_weak_password_stays_valid_for_a_strong_one(stack):
    async with stack() as s:
        phone = await s.new_phone_for(DEWI.noka)
        tokens = (await s.auth.Login(auth_pb2.LoginRequest(identifier=DEWI.noka, password=DEWI.password))).tokens
        reset_id = await s.start("Dewi.Lestari@example.id")
        code = await s.code_sent(reset_id, phone)
        wrong = await s.complete(reset_id, wrong_to(code))
        weak = await s.complete(reset_id, code, WEAK)
        weak_again = await s.complete(reset_id, code, "Sehat#" + DEWI.noka)
        wrong_again = await s.complete(reset_id, wrong_to(code), WEAK)
        done = await s.complete(reset_id, code, STRONG)
        closed = await s.complete(reset_id, code, STRONG)
        old = await answer(s.auth.Login(auth_pb2.LoginRequest(identifier=DEWI.noka, password=DEWI.password)))
        new = await answer(s.auth.Login(auth_pb2.LoginRequest(identifier=DEWI.noka, password=STRONG)))
        refresh = await answer(s.auth.RefreshSession(auth_pb2.RefreshSessionRequest(
            refresh_token=tokens.refresh_token)))
    assert summary([wrong]) == [("OTP_INVALID", 4)]
    assert weak.code == "WEAK_PASSWORD" and "COMMON_PASSWORD" in weak.fields["reasons"]
    assert weak_again.code == "WEAK_PASSWORD" and weak_again.fields["reasons"] == ["CONTAINS_PERSONAL_DATA"]
    assert summary([wrong_again]) == [("OTP_INVALID", 3)]  # the kept code counts wrong guesses on
    assert done.code == "ok" and closed.code == "NOT_FOUND"
    assert old.code == "INVALID_CREDENTIALS" and new.code == "ok"
    assert refresh.code == "UNAUTHENTICATED"  # every session ended


async def test_fifty_parallel_wrong_codes_get_five_answers_for_a_real_and_an_unknown_reset(stack):
    async with stack() as s:
        phone = await s.new_phone_for(DEWI.noka)
        real, unknown = await s.start(DEWI.noka), await s.start(unknown_nik())
        code = await s.code_sent(real, phone)
        for_real, for_unknown = await asyncio.gather(
            asyncio.gather(*[s.complete(real, wrong_to(code)) for _ in range(50)]),
            asyncio.gather(*[s.complete(unknown, wrong_to(code)) for _ in range(50)]))
        # the refused guesses gave their places in the daily cap back: 15 wrong codes remain
        rest = [[await s.complete(reset_id, wrong_to(code)) for _ in range(5)]
                for reset_id in [await s.start(DEWI.nik) for _ in range(3)]]
        capped = await s.complete(await s.start(DEWI.noka), wrong_to(code))
    for answers in (for_real, for_unknown):
        assert Counter(a.code for a in answers) == {"OTP_INVALID": 5, "OTP_ATTEMPTS_EXCEEDED": 45}
        assert sorted(a.fields["attempts_left"] for a in answers if a.code == "OTP_INVALID") == [0, 1, 2, 3, 4]
    assert [a.code for r in rest for a in r] == ["OTP_INVALID"] * 15
    assert capped.code == "OTP_ATTEMPTS_EXCEEDED" and capped.fields["retry_after"] > 60  # the daily cap


async def test_wrong_codes_are_capped_per_account_across_resets_and_for_unknown_identifiers_alike(stack):
    nik = unknown_nik()
    async with stack(with_notify=False) as s:
        identifiers = [DEWI.nik, DEWI.noka, "dewi.lestari@example.id", DEWI.nik, DEWI.noka]
        known = [[await s.complete(reset_id, "123456") for _ in range(5)]
                 for reset_id in [await s.start(i) for i in identifiers]]
        unknown = [[await s.complete(reset_id, "123456") for _ in range(5)]
                   for reset_id in [await s.start(f" {nik} ") for _ in range(5)]]
        other = await s.complete(await s.start(RUDI.noka), "123456")
    for answers in (known, unknown):
        assert [a.code for r in answers[:4] for a in r] == ["OTP_INVALID"] * 20
        assert [a.code for a in answers[4]] == ["OTP_ATTEMPTS_EXCEEDED"] * 5  # the 21st wrong code, in a new reset
        assert {24 * 3600 - 60 <= a.fields["retry_after"] <= 24 * 3600 for a in answers[4]} == {True}
    assert [a.wire[:2] for r in known for a in r] == [a.wire[:2] for r in unknown for a in r]
    assert summary([other]) == [("OTP_INVALID", 4)]  # another account has its own cap


async def test_a_reset_start_needs_a_passed_captcha_when_the_captcha_is_on(stack):
    async with stack(with_notify=False, captcha="on") as s:
        without = await answer(s.start(DEWI.noka))
        unknown_without = await answer(s.start(unknown_nik()))
        with_captcha = await s.start(DEWI.noka, captcha=True)
    assert without.code == unknown_without.code == "CAPTCHA_REQUIRED"
    assert uuid.UUID(with_captcha)

"""Logins against a real auth (services/auth/sessions.py): guesses are counted before they are
checked, per account (NIK, NOKA and verified email share one counter), so parallel guesses get
no more than their share; an unverified email is no login; malformed ids are "not found"."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth.app import build
from services.auth.lockout import key_of
from services.auth.settings import AuthSettings
from services.kit.redis import open_redis
from tests.auth.conftest import answer, sql
from tests.factories import DEWI, RUDI

DEWI_EMAIL, RUDI_EMAIL = "dewi.lestari@example.id", "rudi.hartono@example.id"
WRONG = "Salah#Sandi1"


@pytest.fixture
async def auth(service):
    """Auth with the demo accounts, in a fresh database: the accounts' ids (and so their counters) are new."""

    async def start(**overrides):
        return service(AuthSettings, build, seed_demo_data=True, **overrides)

    yield start


def login(stub: auth_pb2_grpc.AuthServiceStub, identifier: str, password: str = WRONG, *, captcha: bool = False):
    return answer(stub.Login(auth_pb2.LoginRequest(identifier=identifier, password=password, captcha_passed=captcha)))


def unknown_nik() -> str:
    return f"31710{uuid.uuid4().int % 10**11:011d}"


async def forget(redis_url: str, *identifiers: str) -> None:
    """Clear the counters of identifiers that name no account (they are the same in every test)."""
    redis = open_redis(redis_url)
    await redis.delete(*[key_of(i) for i in identifiers])
    await redis.aclose()


async def test_fifty_parallel_wrong_logins_give_five_refusals_and_then_the_lock(auth):
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        answers = await asyncio.gather(*[login(stub, DEWI.noka) for _ in range(50)])
        right = await login(stub, DEWI.noka, DEWI.password or "")
    assert Counter(a.code for a in answers) == {"INVALID_CREDENTIALS": 5, "ACCOUNT_LOCKED": 45}
    assert {1 <= a.fields["retry_after"] <= 60 for a in answers if a.code == "ACCOUNT_LOCKED"} == {True}
    assert right.code == "ACCOUNT_LOCKED"  # even with the right password


async def test_the_nik_noka_and_email_of_one_account_share_one_counter(auth):
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        guesses = [await login(stub, identifier) for identifier in
                   (DEWI.nik, DEWI.nik, DEWI.noka, DEWI.noka, " Dewi.Lestari@Example.ID ")]
        after = [await login(stub, identifier, DEWI.password or "") for identifier in (DEWI.nik, DEWI.noka, DEWI_EMAIL)]
        other = await login(stub, RUDI.noka, RUDI.password or "")
    assert [g.code for g in guesses] == ["INVALID_CREDENTIALS"] * 5
    assert [a.code for a in after] == ["ACCOUNT_LOCKED"] * 3
    assert other.code == "ok"


async def test_unknown_identifiers_are_counted_and_locked_alike(auth):
    nik = unknown_nik()
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.id"
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        answers = await asyncio.gather(*[login(stub, nik) for _ in range(50)])
        spellings = [await login(stub, spelling) for spelling in
                     (email, email.upper(), f"  {email}", email, email, email)]
        known = await asyncio.gather(*[login(stub, RUDI.nik) for _ in range(50)])
    assert Counter(a.code for a in answers) == Counter(a.code for a in known) == {
        "INVALID_CREDENTIALS": 5, "ACCOUNT_LOCKED": 45}
    assert [s.code for s in spellings] == ["INVALID_CREDENTIALS"] * 5 + ["ACCOUNT_LOCKED"]
    # no oracle: a locked unknown identifier answers like a locked account
    locked_unknown = next(a for a in answers if a.code == "ACCOUNT_LOCKED")
    locked_known = next(a for a in known if a.code == "ACCOUNT_LOCKED")
    assert locked_unknown.wire[:2] == locked_known.wire[:2]


async def test_a_success_resets_the_count(auth):
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        first = [await login(stub, DEWI.nik) for _ in range(4)]
        ok = await login(stub, DEWI_EMAIL, DEWI.password or "")
        second = [await login(stub, DEWI.noka) for _ in range(4)]
        again = await login(stub, DEWI.nik, DEWI.password or "")
    assert [a.code for a in first + second] == ["INVALID_CREDENTIALS"] * 8
    assert ok.code == again.code == "ok"


async def test_an_unverified_email_is_no_login_and_does_not_lock_the_account(auth, redis_url):
    await forget(redis_url, RUDI_EMAIL)
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        by_email = await login(stub, RUDI_EMAIL, RUDI.password or "")
        guesses = [await login(stub, RUDI_EMAIL) for _ in range(5)]  # the right password above was the first
        by_noka = await login(stub, RUDI.noka, RUDI.password or "")
        await forget(redis_url, RUDI_EMAIL)
        await sql(running.settings.database_url, "UPDATE accounts SET email_verified = true WHERE noka = $1",
                  RUDI.noka)
        verified = await login(stub, RUDI_EMAIL, RUDI.password or "")
    assert by_email.code == "INVALID_CREDENTIALS"
    assert [g.code for g in guesses] == ["INVALID_CREDENTIALS"] * 4 + ["ACCOUNT_LOCKED"]
    assert by_noka.code == "ok"  # the unverified email's counter is not the account's
    assert verified.code == "ok"


async def test_with_the_captcha_on_parallel_logins_past_three_failures_need_one(auth):
    async with await auth(captcha="on") as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        answers = await asyncio.gather(*[login(stub, DEWI.noka) for _ in range(50)])
        without = await login(stub, DEWI.noka, DEWI.password or "")
        with_captcha = await login(stub, DEWI.noka, DEWI.password or "", captcha=True)
    assert Counter(a.code for a in answers) == {"INVALID_CREDENTIALS": 3, "CAPTCHA_REQUIRED": 47}
    assert without.code == "CAPTCHA_REQUIRED" and with_captcha.code == "ok"


async def test_malformed_account_and_session_ids_are_not_found(auth):
    async with await auth() as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        nobody = str(uuid.uuid4())
        spellings = ["not-a-uuid", "", "x" * 300, f"urn:uuid:{nobody}", f"{{{nobody}}}", nobody.replace("-", "")]
        listed = [await answer(stub.ListSessions(auth_pb2.ListSessionsRequest(account_id=s))) for s in spellings]
        revoked = [await answer(stub.RevokeSession(auth_pb2.RevokeSessionRequest(account_id=s, session_id=t)))
                   for s in spellings for t in (nobody, "not-a-uuid")]
    assert [a.code for a in listed] == ["NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "ok", "ok", "ok"]  # no sessions: []
    assert {a.code for a in revoked} == {"NOT_FOUND"}

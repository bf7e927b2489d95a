"""The PIN against a real auth (services/auth/pin.py): its password check is a login attempt of the
account (one counter, 423 while locked), and PIN guesses are counted before they are compared,
however many arrive at once (a contact change confirmed by the PIN included)."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth.app import build
from services.auth.settings import AuthSettings
from tests.auth.conftest import account_id, answer
from tests.factories import DEWI, RUDI

DEWI_PIN, NEW_PIN, WRONG = "240817", "582914", "Salah#Sandi1"


@pytest.fixture
async def auth(service):
    """Auth with the demo accounts (fresh ids, so fresh counters) and the stub to call it."""
    async with (service(AuthSettings, build, seed_demo_data=True) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        yield running, auth_pb2_grpc.AuthServiceStub(channel)


def set_pin(stub, account: str, password: str, pin: str = NEW_PIN):
    return answer(stub.SetPin(auth_pb2.SetPinRequest(account_id=account, pin=pin, password=password)))


def login(stub, identifier: str, password: str):
    return answer(stub.Login(auth_pb2.LoginRequest(identifier=identifier, password=password)))


async def test_a_wrong_password_at_set_pin_is_a_login_failure_and_a_lock_refuses_set_pin(auth):
    running, stub = auth
    dewi = await account_id(running.settings.database_url, DEWI.noka)
    at_pin = [await set_pin(stub, dewi, WRONG) for _ in range(3)]
    at_login = [await login(stub, DEWI.nik, WRONG) for _ in range(2)]
    locked_login = await login(stub, DEWI.noka, DEWI.password or "")
    locked_pin = await set_pin(stub, dewi, DEWI.password or "")
    assert [a.code for a in at_pin + at_login] == ["INVALID_CREDENTIALS"] * 5
    assert locked_login.code == locked_pin.code == "ACCOUNT_LOCKED"  # even with the right password
    assert 1 <= locked_pin.fields["retry_after"] <= 60


async def test_fifty_parallel_wrong_passwords_at_set_pin_give_five_refusals(auth):
    running, stub = auth
    rudi = await account_id(running.settings.database_url, RUDI.noka)
    answers = await asyncio.gather(*[set_pin(stub, rudi, WRONG) for _ in range(50)])
    assert Counter(a.code for a in answers) == {"INVALID_CREDENTIALS": 5, "ACCOUNT_LOCKED": 45}
    assert (await login(stub, RUDI.noka, RUDI.password or "")).code == "ACCOUNT_LOCKED"


async def test_the_right_password_at_set_pin_resets_the_count_and_a_weak_pin_is_refused(auth):
    running, stub = auth
    rudi = await account_id(running.settings.database_url, RUDI.noka)
    before = [await login(stub, RUDI.nik, WRONG) for _ in range(4)]
    weak = await set_pin(stub, rudi, RUDI.password or "", pin="123456")
    after = [await login(stub, RUDI.nik, WRONG) for _ in range(4)]
    done = await set_pin(stub, rudi, RUDI.password or "")
    assert [a.code for a in before + after] == ["INVALID_CREDENTIALS"] * 8
    assert weak.code == "WEAK_PIN" and weak.fields["reasons"] == ["SEQUENCE"]
    assert done.code == "ok"
    assert (await answer(stub.VerifyPin(auth_pb2.VerifyPinRequest(account_id=rudi, pin=NEW_PIN)))).code == "ok"


async def test_two_hundred_parallel_wrong_pins_on_a_contact_change_give_at_most_five_pin_invalid(auth):
    running, stub = auth
    dewi = await account_id(running.settings.database_url, DEWI.noka)
    answers = await asyncio.gather(*[answer(stub.StartEmailChange(auth_pb2.StartEmailChangeRequest(
        account_id=dewi, new_email="dewi.baru@example.id", pin="000000"))) for _ in range(200)])
    right = await answer(stub.VerifyPin(auth_pb2.VerifyPinRequest(account_id=dewi, pin=DEWI_PIN)))
    counts = Counter(a.code for a in answers)
    assert counts == {"PIN_INVALID": 4, "PIN_LOCKED": 196}  # the fifth wrong PIN locks at once
    assert sorted(a.fields["attempts_left"] for a in answers if a.code == "PIN_INVALID") == [1, 2, 3, 4]
    assert {1790 <= a.fields["retry_after"] <= 1800 for a in answers if a.code == "PIN_LOCKED"} == {True}
    assert right.code == "PIN_LOCKED"  # even the right PIN waits


async def test_wrong_pins_count_down_and_a_right_one_clears_them(auth):
    running, stub = auth
    dewi = await account_id(running.settings.database_url, DEWI.noka)

    def verify(pin: str):
        return answer(stub.VerifyPin(auth_pb2.VerifyPinRequest(account_id=dewi, pin=pin)))

    wrong = [await verify("000000") for _ in range(4)]
    right = await verify(DEWI_PIN)
    again = [await verify("000000") for _ in range(5)]
    assert [(a.code, a.fields.get("attempts_left")) for a in wrong] == [("PIN_INVALID", n) for n in (4, 3, 2, 1)]
    assert right.code == "ok"
    assert [a.code for a in again] == ["PIN_INVALID"] * 4 + ["PIN_LOCKED"]

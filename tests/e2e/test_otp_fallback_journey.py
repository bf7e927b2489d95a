"""When SMS fails (CONTRACT.md §7), on the stack as `make run` starts it: Sri's number is dead, the
app sees FAILED, the same code comes by email and activates her account; Dewi lost her phone and
recovers the account through her verified email and a new number, with the cooling-off shortened
by JKN_AUTH_RECOVERY_DELAY_S."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from services.devstack.launch import Stack, start_stack
from tests.factories import DEWI, SRI

pytestmark = pytest.mark.e2e
DEAD = "081299990000"  # JKN_NOTIFY_DEV_UNREACHABLE_NUMBERS' default
SRI_EMAIL = "sri.rahayu@example.id"
DEWI_EMAIL = "dewi.lestari@example.id"
NEW_PHONE = "+6281234509901"


@pytest.fixture(scope="module")
def fast_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"), JKN_AUTH_RECOVERY_DELAY_S="3",
                          JKN_AUTH_JOBS_EVERY_S="0.5")
    try:
        running.wait_ready(120)
        yield running
    finally:
        running.stop()


def codes(stack: Stack, to: str) -> list[str]:
    items = httpx.get(f"{stack.gateway}/dev/outbox", params={"to": to}).json()["items"]
    return [i["code"] for i in items if i.get("code")]


def wait_for(predicate, what: str, timeout_s: float = 30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def test_a_dead_number_shows_failed_and_the_same_code_by_email_activates_the_account(fast_stack: Stack):
    gateway = fast_stack.gateway
    started = httpx.post(f"{gateway}/v1/registrations", json={
        "identifier": SRI.nik, "birth_date": SRI.birth_date, "phone": DEAD, "email": SRI_EMAIL,
        "password": "Keluarga#Sehat2"})
    assert started.status_code == 201, started.text
    registration_id = started.json()["registration_id"]
    assert started.json()["otp"]["channels_available"] == ["sms", "email"]

    def failed() -> dict | None:
        body = httpx.get(f"{gateway}/v1/registrations/{registration_id}").json()
        return body if body["otp"]["delivery_status"] == "FAILED" else None

    assert wait_for(failed, "FAILED")["status"] == "PENDING_VERIFICATION"
    resent = httpx.post(f"{gateway}/v1/registrations/{registration_id}/otp/resend", json={"channel": "email"})
    assert resent.status_code == 202, resent.text
    code = wait_for(lambda: codes(fast_stack, SRI_EMAIL), "the email code")[0]
    assert codes(fast_stack, DEAD) == []
    verified = httpx.post(f"{gateway}/v1/registrations/{registration_id}/verify", json={"code": code})
    assert verified.status_code == 201, verified.text


def test_dewi_recovers_her_account_without_her_old_phone(fast_stack: Stack):
    gateway = fast_stack.gateway
    session = httpx.post(f"{gateway}/v1/sessions", json={"identifier": DEWI.noka, "password": DEWI.password})
    holder = {"Authorization": f"Bearer {session.json()['access_token']}"}
    started = httpx.post(f"{gateway}/v1/account-recoveries", json={
        "identifier": DEWI.nik, "birth_date": DEWI.birth_date, "new_phone": NEW_PHONE})
    assert started.status_code == 202, started.text
    recovery_id = started.json()["recovery_id"]
    email_code = wait_for(lambda: codes(fast_stack, DEWI_EMAIL), "the email code")[0]
    assert httpx.post(f"{gateway}/v1/account-recoveries/{recovery_id}/verify-email",
                      json={"code": email_code}).status_code == 202
    sms_code = wait_for(lambda: codes(fast_stack, NEW_PHONE), "the SMS code")[0]
    scheduled = httpx.post(f"{gateway}/v1/account-recoveries/{recovery_id}/verify-phone", json={"code": sms_code})
    assert scheduled.status_code == 202 and scheduled.json()["effective_at"], scheduled.text

    wait_for(lambda: httpx.get(f"{gateway}/v1/me", headers=holder).status_code == 401, "the sessions' end")
    again = httpx.post(f"{gateway}/v1/sessions", json={"identifier": DEWI.noka, "password": DEWI.password})
    me = httpx.get(f"{gateway}/v1/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}).json()
    assert me["phone_masked"] == "+62812****9901"

"""CONTRACT.md §7 "Errors across services": a refusal that a backing service gives reaches the
client as that refusal, with its own status, code and fields — never a 500 (the whole stack)."""

from __future__ import annotations

import httpx
import pytest

from services.devstack.launch import Stack
from tests.factories import ANDI, DEWI, bearer

pytestmark = pytest.mark.e2e


def test_a_resend_inside_the_cooldown_is_429_with_retry_after(stack: Stack):
    started = httpx.post(f"{stack.gateway}/v1/registrations", json=ANDI.registration(
        phone="081234500031", email="andi.santoso@example.id", password="Anak#Sehat2010"))
    assert started.status_code == 201, started.text
    resent = httpx.post(f"{stack.gateway}/v1/registrations/{started.json()['registration_id']}/otp/resend")
    assert resent.status_code == 429, resent.text
    body = resent.json()
    assert body["code"] == "OTP_RESEND_TOO_SOON" and 0 < body["retry_after"] <= 60
    assert resent.headers["content-type"].startswith("application/problem+json")
    assert int(resent.headers["Retry-After"]) == body["retry_after"]


def test_a_phone_number_notify_cannot_reach_is_422_at_registration_and_at_a_phone_change(stack: Stack):
    registered = httpx.post(f"{stack.gateway}/v1/registrations", json={
        "identifier": "3171011501800001", "birth_date": "1980-01-15", "phone": "0000000000000000000",
        "email": "budi.e2e.errors@example.id", "password": "Keluarga#Sehat1"})
    assert registered.status_code == 422, registered.text
    assert registered.json()["code"] == "VALIDATION_ERROR"
    headers = bearer(stack.gateway, DEWI.noka, DEWI.password or "")
    changed = httpx.post(f"{stack.gateway}/v1/me/phone-changes", headers=headers,
                         json={"new_phone": "0000000000000000000", "pin": "240817"})
    assert changed.status_code == 422, changed.text
    assert changed.json()["code"] == "VALIDATION_ERROR"

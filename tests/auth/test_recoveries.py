"""The pure rules of account recovery (services/auth/recoveries.py); the flow itself runs against
real services in tests/gateway/test_otp_fallback_and_recovery.py and tests/e2e."""

from __future__ import annotations

from datetime import date

from services.auth.recoveries import cap_subject, identity_matches
from services.auth.reset_codes import cap_key

BORN = date(1995, 8, 4)


def account(**fields):
    return {"birth_date": BORN, "email": "dewi@example.id", "email_verified": True, **fields}


def test_only_an_account_born_that_day_with_a_verified_email_is_recovered():
    assert identity_matches(account(), birth_date=BORN)
    assert not identity_matches(account(), birth_date=date(1995, 8, 5))
    assert not identity_matches(account(email_verified=False), birth_date=BORN)
    assert not identity_matches(account(email=None), birth_date=BORN)
    assert not identity_matches(None, birth_date=BORN)


def test_recovery_guesses_have_a_cap_apart_from_password_resets():
    assert cap_key(cap_subject("auth:lock:abc")) != cap_key("auth:lock:abc")

"""The pure parts of paying premiums (services/membership/payments.py): no server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest

from services.kit.clock import JAKARTA
from services.kit.errors import DomainError
from services.membership import payments
from services.membership.payments import Callback

SECRET = "dev-payment-callback-secret"
PAID_AT = datetime(2026, 11, 21, 10, 30, tzinfo=JAKARTA)
BODY = {"payment_id": "pay-1", "virtual_account": "8888801234567801", "amount": 300_000,
        "paid_at": PAID_AT.isoformat(), "provider_ref": "ref-1"}


def raw(body: object) -> bytes:
    return json.dumps(body).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


# --- rule 1: the virtual account ------------------------------------------------------------------


def test_the_virtual_account_is_the_provider_prefix_and_the_heads_card_number_without_its_first_two_digits():
    assert payments.virtual_account("0001234567801") == "8888801234567801"
    assert payments.virtual_account("1204567890006") == "8888804567890006"


# --- rule 2: the webhook signature -------------------------------------------------------------------


def test_a_callback_signed_with_the_secret_is_accepted():
    body = raw(BODY)
    payments.verify_signature(SECRET, body, sign(body))


def test_the_signature_may_be_upper_case_hex_with_surrounding_whitespace():
    body = raw(BODY)
    payments.verify_signature(SECRET, body, f"  {sign(body).upper()}\n")


@pytest.mark.parametrize("tamper", ["other secret", "other body", "truncated", "empty", "sha1"])
def test_any_other_signature_is_refused_as_unauthenticated(tamper):
    body = raw(BODY)
    signature = {
        "other secret": sign(body, "another-secret"),
        "other body": sign(raw({**BODY, "amount": 1})),
        "truncated": sign(body)[:-1],
        "empty": "",
        "sha1": hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(),
    }[tamper]
    error = refusal(lambda: payments.verify_signature(SECRET, body, signature))
    assert error.code == "UNAUTHENTICATED" and error.detail == "bad payment callback signature"


def test_the_signature_covers_the_raw_bytes_not_the_json_they_mean():
    body = raw(BODY)
    respaced = json.dumps(BODY, indent=1).encode()
    assert json.loads(respaced) == json.loads(body)
    assert refusal(lambda: payments.verify_signature(SECRET, respaced, sign(body))).code == "UNAUTHENTICATED"


# --- the callback's body ------------------------------------------------------------------------------


def test_a_callback_body_is_parsed_into_its_fields():
    assert payments.parse_callback(raw(BODY)) == Callback("pay-1", "8888801234567801", 300_000, PAID_AT, "ref-1")


def test_numbers_and_text_are_normalised():
    parsed = payments.parse_callback(raw({**BODY, "payment_id": 17, "amount": "300000", "provider_ref": 42}))
    assert (parsed.payment_id, parsed.amount_idr, parsed.provider_ref) == ("17", 300_000, "42")


def test_the_paid_at_instant_keeps_its_offset():
    parsed = payments.parse_callback(raw({**BODY, "paid_at": "2026-11-21T03:30:00+00:00"}))
    assert parsed.paid_at == PAID_AT and parsed.paid_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("body", [
    b"not json",
    b"",
    raw([BODY]),
    raw(42),
    raw({k: v for k, v in BODY.items() if k != "provider_ref"}),
    raw({k: v for k, v in BODY.items() if k != "payment_id"}),
    raw({**BODY, "amount": "300.000"}),
    raw({**BODY, "amount": None}),
    raw({**BODY, "paid_at": "yesterday"}),
    raw({**BODY, "paid_at": None}),
])
def test_a_malformed_callback_is_a_validation_error(body):
    error = refusal(lambda: payments.parse_callback(body))
    assert error.code == "VALIDATION_ERROR" and error.detail == "malformed payment callback"
    assert error.fields == {"errors": [{"field": "body", "code": "invalid", "message": "malformed callback"}]}
    assert isinstance(error.__cause__, ValueError | KeyError | TypeError)


def test_a_callback_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        payments.parse_callback(raw(BODY)).amount_idr = 1  # type: ignore[misc]


# --- rule 4: the callback must match the open payment ----------------------------------------------------


EXPIRES = PAID_AT + timedelta(hours=1)
OPEN = {"amount_idr": 300_000, "account": "8888801234567801", "status": "PENDING", "expires_at": EXPIRES}


def check(callback: Callback | None = None, **payment) -> None:
    payments.check_matches(callback=callback or payments.parse_callback(raw(BODY)), **{**OPEN, **payment})


def test_a_callback_for_the_open_payment_matches():
    check()


def test_a_payment_made_at_the_last_moment_still_counts():
    check(callback=payments.parse_callback(raw({**BODY, "paid_at": EXPIRES.isoformat()})))


@pytest.mark.parametrize("payment", [{"amount_idr": 299_999}, {"amount_idr": 300_001},
                                     {"account": "8888801234567802"}])
def test_another_amount_or_account_is_a_mismatch(payment):
    error = refusal(lambda: check(**payment))
    assert error.code == "PAYMENT_AMOUNT_MISMATCH" and error.detail == "amount or account differs from the payment"


@pytest.mark.parametrize("status", ["PAID", "EXPIRED", "REPLACED", "pending"])
def test_a_payment_that_is_not_pending_is_not_paid_again(status):
    error = refusal(lambda: check(status=status))
    assert error.code == "PAYMENT_AMOUNT_MISMATCH" and error.detail == "payment is not open"


def test_a_payment_made_after_its_virtual_account_expired_is_refused():
    late = payments.parse_callback(raw({**BODY, "paid_at": (EXPIRES + timedelta(seconds=1)).isoformat()}))
    error = refusal(lambda: check(callback=late))
    assert error.code == "PAYMENT_AMOUNT_MISMATCH" and error.detail == "payment is not open"


def test_the_amount_is_checked_before_the_status():
    assert refusal(lambda: check(amount_idr=1, status="PAID")).detail == "amount or account differs from the payment"

"""The pure parts of paying premiums (services/membership/payments.py): no server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.clock import JAKARTA
from services.kit.errors import DomainError
from services.membership import payments
from services.membership.payments import Callback

SECRET = "dev-payment-callback-secret"
PAID_AT = datetime(2026, 11, 21, 10, 30, tzinfo=JAKARTA)
PAYMENT_ID = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")
BODY = {"payment_id": str(PAYMENT_ID), "virtual_account": "8888801234567801", "amount": 300_000,
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


# --- rule 2: the open payment again, or a new one superseding it -------------------------------------------

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
BILLS = {("p-1", "2026-09"), ("p-1", "2026-10"), ("p-2", "2026-10")}


def reuses(**change) -> bool:
    asked = {"open_bills": BILLS, "open_amount_idr": 105_000, "open_expires_at": NOW + timedelta(hours=1),
             "bills": list(BILLS), "amount_idr": 105_000, "now": NOW}
    return payments.reuses_open(**{**asked, **change})


def test_the_same_bills_for_the_same_amount_before_the_expiry_get_the_open_payment_again():
    assert reuses() is True
    assert reuses(bills=sorted(BILLS, reverse=True)) is True  # in any order


@pytest.mark.parametrize("change", [
    {"bills": BILLS - {("p-2", "2026-10")}},                  # fewer bills
    {"bills": BILLS | {("p-1", "2026-11")}},                  # more bills
    {"bills": {("p-1", "2026-09"), ("p-1", "2026-10"), ("p-3", "2026-10")}},  # as many, another one
    {"amount_idr": 105_001},                                  # the bills' amounts changed meanwhile
    {"amount_idr": 104_999},
    {"now": NOW + timedelta(hours=1)},                        # expired at that very instant
    {"now": NOW + timedelta(hours=2)},
])
def test_anything_else_supersedes_the_open_payment(change):
    assert reuses(**change) is False


# --- rule 3: the webhook signature -------------------------------------------------------------------


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


@pytest.mark.parametrize("signature", ["é" * 64, "\udcff" * 64, "ï»¿" + "0" * 61])
def test_a_signature_that_is_not_ascii_is_refused_not_a_crash(signature):
    assert refusal(lambda: payments.verify_signature(SECRET, raw(BODY), signature)).code == "UNAUTHENTICATED"


def test_the_signature_covers_the_raw_bytes_not_the_json_they_mean():
    body = raw(BODY)
    respaced = json.dumps(BODY, indent=1).encode()
    assert json.loads(respaced) == json.loads(body)
    assert refusal(lambda: payments.verify_signature(SECRET, respaced, sign(body))).code == "UNAUTHENTICATED"


# --- rule 4: the callback's body ----------------------------------------------------------------------


def errors(body: bytes) -> list[dict[str, str]]:
    error = refusal(lambda: payments.parse_callback(body))
    assert error.code == "VALIDATION_ERROR" and error.detail == "malformed payment callback"
    assert list(error.fields) == ["errors"]
    return error.fields["errors"]


def fields(body: bytes) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in errors(body)]


def test_a_callback_body_is_parsed_into_its_fields():
    assert payments.parse_callback(raw(BODY)) == Callback(PAYMENT_ID, "8888801234567801", 300_000, PAID_AT, "ref-1")


def test_numbers_and_text_are_normalised():
    parsed = payments.parse_callback(raw({**BODY, "virtual_account": 8888801234567801, "amount": "300000",
                                          "provider_ref": 42, "payment_id": str(PAYMENT_ID).upper()}))
    assert (parsed.payment_id, parsed.virtual_account, parsed.amount_idr, parsed.provider_ref) == (
        PAYMENT_ID, "8888801234567801", 300_000, "42")
    assert payments.parse_callback(raw({**BODY, "amount": 300_000.0})).amount_idr == 300_000


def test_the_paid_at_instant_keeps_its_offset():
    parsed = payments.parse_callback(raw({**BODY, "paid_at": "2026-11-21T03:30:00+00:00"}))
    assert parsed.paid_at == PAID_AT and parsed.paid_at.utcoffset() == timedelta(0)
    assert payments.parse_callback(raw({**BODY, "paid_at": "2026-11-21T03:30:00Z"})).paid_at == PAID_AT


@pytest.mark.parametrize("body", [b"not json", b"", b"\xff\xfe", raw([BODY]), raw(42), raw(None), raw("x"),
                                  b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_is_no_json_object_is_named_body(body):
    assert errors(body) == [{"field": "body", "code": "invalid", "message": "a JSON object"}]


@pytest.mark.parametrize("field", ["payment_id", "virtual_account", "amount", "paid_at", "provider_ref"])
@pytest.mark.parametrize("value", ["absent", None, ""])
def test_a_missing_field_is_required(field, value):
    body = {k: v for k, v in BODY.items() if k != field} if value == "absent" else {**BODY, field: value}
    assert errors(raw(body)) == [{"field": field, "code": "required", "message": f"{field} is required"}]


@pytest.mark.parametrize("payment_id", ["pay-1", 17, True, ["x"], {"id": 1}, "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4",
                                        "\ud800" * 36, "x" * 10_000])
def test_a_payment_id_is_a_uuid(payment_id):
    assert errors(raw({**BODY, "payment_id": payment_id})) == [
        {"field": "payment_id", "code": "invalid", "message": "a UUID"}]


@pytest.mark.parametrize("amount", ["300.000", "300000.5", 300_000.5, " 300000", "-1", -1, 0, "0", True, False,
                                    "３００", [300_000], {"idr": 1}, 10**15 + 1, "1" * 17, "9" * 5000, 1e300,
                                    float("inf"), float("nan")])
def test_an_amount_is_whole_rupiah_from_1_to_10_to_the_15(amount):
    assert errors(raw({**BODY, "amount": amount})) == [
        {"field": "amount", "code": "invalid", "message": "whole rupiah, 1 to 1000000000000000"}]


@pytest.mark.parametrize("amount", [1, 10**15, "1", "000300000", "9" * 15, "1" + "0" * 15])
def test_the_amounts_at_the_edges_are_accepted(amount):
    assert payments.parse_callback(raw({**BODY, "amount": amount})).amount_idr == int(amount)


def test_an_amount_in_text_is_at_most_16_digits_leading_zeros_included():
    assert payments.parse_callback(raw({**BODY, "amount": "0" * 15 + "1"})).amount_idr == 1
    assert errors(raw({**BODY, "amount": "0" * 16 + "1"})) == [
        {"field": "amount", "code": "invalid", "message": "whole rupiah, 1 to 1000000000000000"}]


@pytest.fixture
def server_in_jakarta(monkeypatch):
    """The process' local time zone is UTC+7 (a POSIX TZ rule, no tz database needed)."""
    monkeypatch.setenv("TZ", "WIB-7")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("paid_at", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"])
def test_the_edge_instants_are_accepted_whatever_the_servers_time_zone(server_in_jakarta, paid_at):
    assert datetime.fromtimestamp(0).hour == 7  # the local zone is in force
    assert payments.parse_callback(raw({**BODY, "paid_at": paid_at})).paid_at == datetime.fromisoformat(paid_at)


@pytest.mark.parametrize("paid_at", [
    "2026-11-21T10:30:00",            # no offset: which instant is it?
    "2026-11-21",                     # a date, not an instant
    "yesterday", 1763695800, True, ["2026-11-21T10:30:00+07:00"],
    "0001-01-01T00:00:00+05:00",      # before year 1 once in UTC
    "9999-12-31T23:59:59-05:00",      # after year 9999 once in UTC
    "2026-11-21T10:30:00+07:00" + "x" * 10_000,
])
def test_paid_at_is_an_instant_with_its_utc_offset(paid_at):
    assert errors(raw({**BODY, "paid_at": paid_at})) == [
        {"field": "paid_at", "code": "invalid", "message": "an ISO 8601 instant with its UTC offset"}]


@pytest.mark.parametrize("field", ["provider_ref", "virtual_account"])
@pytest.mark.parametrize("value", ["x" * 101, "   ", "ref\x00", "ref\n", "réf", "\ud800", True, 1.5, ["ref"],
                                   {"r": 1}])
def test_references_are_1_to_100_printable_ascii_characters(field, value):
    assert errors(raw({**BODY, field: value})) == [
        {"field": field, "code": "invalid", "message": "1 to 100 printable ASCII characters"}]


@pytest.mark.parametrize("value", ["x", "x" * 100, "PRV 2026/11-21#1", 0])
def test_references_at_the_edges_are_accepted(value):
    assert payments.parse_callback(raw({**BODY, "provider_ref": value})).provider_ref == str(value)


def test_every_malformed_field_is_named_at_once_in_order():
    body = {"payment_id": 1, "amount": "x", "paid_at": "2026-11-21T10:30:00", "provider_ref": " "}
    assert fields(raw(body)) == [("payment_id", "invalid"), ("virtual_account", "required"), ("amount", "invalid"),
                                 ("paid_at", "invalid"), ("provider_ref", "invalid")]


def test_fields_beyond_the_five_are_ignored():
    assert payments.parse_callback(raw({**BODY, "extra": {"nested": [1, 2]}})) == payments.parse_callback(raw(BODY))


def test_a_callback_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        payments.parse_callback(raw(BODY)).amount_idr = 1  # type: ignore[misc]


# --- rule 6: the callback must match the payment; then the money is never refused ---------------------------


EXPIRES = PAID_AT + timedelta(hours=1)


def check(callback: Callback | None = None, **payment) -> None:
    payments.check_matches(callback=callback or payments.parse_callback(raw(BODY)),
                           **{"amount_idr": 300_000, "account": "8888801234567801", **payment})


def test_a_callback_for_the_payments_amount_and_account_matches():
    check()


@pytest.mark.parametrize("payment", [{"amount_idr": 299_999}, {"amount_idr": 300_001},
                                     {"account": "8888801234567802"}, {"account": "888880123456780"}])
def test_another_amount_or_account_is_a_mismatch(payment):
    error = refusal(lambda: check(**payment))
    assert error.code == "PAYMENT_AMOUNT_MISMATCH" and error.detail == "amount or account differs from the payment"


def outcome(status: str, paid_at: datetime = PAID_AT) -> str:
    return payments.outcome(status=status, paid_at=paid_at, expires_at=EXPIRES)


def test_an_open_payment_paid_by_its_expiry_is_paid():
    assert outcome("PENDING") == "paid"
    assert outcome("PENDING", EXPIRES) == "paid"  # at the last moment


def test_an_open_payment_paid_after_its_expiry_is_settled_late():
    assert outcome("PENDING", EXPIRES + timedelta(microseconds=1)) == "settled_late"


@pytest.mark.parametrize("paid_at", [PAID_AT, EXPIRES, EXPIRES + timedelta(days=3)])
def test_a_superseded_or_expired_payment_is_settled_late(paid_at):
    assert outcome("EXPIRED", paid_at) == "settled_late"


@pytest.mark.parametrize("paid_at", [PAID_AT, EXPIRES + timedelta(days=3)])
def test_a_payment_already_paid_is_paid_again(paid_at):
    assert outcome("PAID", paid_at) == "paid_again"


# --- rule 7: what was paid beyond the bills ------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "newly_paid", "overpaid"), [
    (105_000, 105_000, 0),       # every bill it covered was still unpaid
    (105_000, 70_000, 35_000),   # one of them was paid meanwhile by another payment
    (105_000, 0, 105_000),       # all of them were (or it was paid again)
    (105_000, 140_000, 0),       # never negative
])
def test_the_overpaid_amount_is_what_the_newly_paid_bills_do_not_account_for(amount, newly_paid, overpaid):
    assert payments.overpaid_idr(amount_idr=amount, newly_paid_idr=newly_paid) == overpaid


@pytest.mark.parametrize(("overpaid", "needed"), [(0, False), (1, True), (105_000, True)])
def test_any_overpaid_rupiah_needs_reconciliation(overpaid, needed):
    assert payments.needs_reconciliation(overpaid) is needed

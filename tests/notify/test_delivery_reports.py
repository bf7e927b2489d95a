"""The rules of the SMS gateway's delivery reports (services/notify/delivery_reports.py): the
signature over the raw body, and what a report may say."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.kit.errors import Unauthenticated, ValidationFailed
from services.notify.delivery_reports import Report, parse_report, verify_signature

SECRET = "callback-secret"


def sign(raw: bytes) -> str:
    return hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()


def test_only_the_hmac_of_the_exact_raw_body_is_accepted():
    raw = b'{"reference": "otp:v:1", "status": "DELIVERED"}'
    verify_signature(SECRET, raw, sign(raw))
    verify_signature(SECRET, raw, sign(raw).upper())  # hex in either case
    for signature in (sign(raw + b" "), sign(raw)[:-1], "", "é" * 64):
        with pytest.raises(Unauthenticated):
            verify_signature(SECRET, raw, signature)


@pytest.mark.parametrize(("status", "ours"), [("DELIVERED", "sent"), ("sent", "sent"), ("ACCEPTED", "sent"),
                                              ("FAILED", "failed"), ("undelivered", "failed"),
                                              ("REJECTED", "failed"), ("EXPIRED", "failed")])
def test_the_gateways_words_map_to_sent_or_failed(status: str, ours: str):
    raw = json.dumps({"reference": "otp:v:1", "status": status, "timestamp": "2026-01-15T01:00:00Z"}).encode()
    assert parse_report(raw) == Report("otp:v:1", ours)


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"status": "DELIVERED"}', b'{"reference": "r"}',
                                 b'{"reference": "r", "status": "MAYBE"}', b'{"reference": 7, "status": "SENT"}',
                                 json.dumps({"reference": "r" * 300, "status": "SENT"}).encode()])
def test_anything_else_is_a_validation_error(raw: bytes):
    with pytest.raises(ValidationFailed):
        parse_report(raw)

"""Paying premiums: virtual accounts and the payment provider's webhook.

- Rule 1: a payment covers chosen unpaid periods of the family (none chosen: all unpaid);
  its amount is the sum of those bills; its virtual account expires in 24 h. A new payment
  replaces the family's open one.
- Rule 2: the webhook is accepted only with ``X-Signature = hex(HMAC-SHA256(secret, raw body))``.
- Rule 3: a callback is idempotent on ``provider_ref``: a replay changes nothing.
- Rule 4: the amount and the virtual account must be exactly the payment's; an expired or
  already paid payment is not paid again.
- Rule 5: once the family has no arrears left, every member inactive for arrears or for an
  awaited first payment becomes AKTIF at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from services.kit.errors import DomainError, Unauthenticated


def virtual_account(noka: str) -> str:
    """Rule 1: BPJS-style VA, the provider prefix 88888 and the head's card number."""
    return "88888" + noka[2:]


def verify_signature(secret: str, raw_body: bytes, signature: str) -> None:
    """Rule 2 (constant-time)."""
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Unauthenticated("bad payment callback signature")


@dataclass(frozen=True)
class Callback:
    payment_id: str
    virtual_account: str
    amount_idr: int
    paid_at: datetime
    provider_ref: str


def parse_callback(raw_body: bytes) -> Callback:
    try:
        body = json.loads(raw_body)
        return Callback(str(body["payment_id"]), str(body["virtual_account"]), int(body["amount"]),
                        datetime.fromisoformat(str(body["paid_at"])), str(body["provider_ref"]))
    except (ValueError, KeyError, TypeError) as error:
        raise DomainError("malformed payment callback", code="VALIDATION_ERROR",
                          errors=[{"field": "body", "code": "invalid", "message": "malformed callback"}]) from error


def check_matches(*, callback: Callback, amount_idr: int, account: str, status: str, expires_at: datetime) -> None:
    """Rule 4."""
    if callback.amount_idr != amount_idr or callback.virtual_account != account:
        raise DomainError("amount or account differs from the payment", code="PAYMENT_AMOUNT_MISMATCH")
    if status != "PENDING" or callback.paid_at > expires_at:
        raise DomainError("payment is not open", code="PAYMENT_AMOUNT_MISMATCH")

"""Paying premiums: virtual accounts and the payment provider's webhook.

- Rule 1: a payment covers chosen unpaid bills of the family (those of the chosen periods; none
  chosen: every unpaid bill); its amount is their sum; its virtual account is the head's
  (rule 1's `virtual_account`) and it expires 24 h after it is opened (premiums rule 5).
- Rule 2: a family has at most one open payment. A new request for exactly the bills the open
  payment covers, for the same amount, before it expires, gets that same payment back (same id,
  virtual account, amount and expiry). Any other request supersedes it (EXPIRED, ``superseded_by``
  the new one) and opens a new one.
- Rule 3: the webhook is accepted only with ``X-Signature = hex(HMAC-SHA256(secret, raw body))``.
- Rule 4: the body is a JSON object whose fields have their shapes, or it is a 422
  VALIDATION_ERROR naming each field that has not (``required`` or ``invalid``): ``payment_id`` a
  UUID; ``virtual_account`` and ``provider_ref`` 1–100 printable ASCII characters (a whole number
  is taken as its digits); ``amount`` whole rupiah, 1 to 10^15 (a number or a string of digits,
  never a fraction or a boolean); ``paid_at`` an ISO 8601 instant with its UTC offset.
- Rule 5: a callback is idempotent on ``provider_ref``: a reference already received changes
  nothing and is answered with the payment it settled. It is checked again under the family's
  lock, so duplicates racing each other settle once.
- Rule 6: the amount and the virtual account must be exactly the payment's
  (PAYMENT_AMOUNT_MISMATCH). Then the money moved and is never refused (`outcome`):
  ``paid`` — the open payment, paid by its expiry; ``settled_late`` — a payment superseded
  (rule 2) or expired, or paid after its expiry: it is PAID all the same; ``paid_again`` — a
  payment already PAID under another reference: recorded, nothing more is paid. A ``paid`` or
  ``settled_late`` payment pays those of its bills still unpaid, and supersedes any open payment of
  the family that covers one of them (an open payment asks only for what is owed).
- Rule 7: what a receipt paid beyond the bills it newly paid (its bills paid meanwhile by another
  payment, or all of it when paid again) is its overpaid amount; a receipt with one needs
  reconciliation (a refund or a credit by the back office): it is flagged, logged and counted.
- Rule 8: once the family has no arrears left, every member inactive for arrears or for an
  awaited first payment becomes AKTIF at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.kit.errors import DomainError, Unauthenticated, ValidationFailed

MAX_TEXT = 100
MAX_AMOUNT_IDR = 10**15
Outcome = Literal["paid", "settled_late", "paid_again"]


def virtual_account(noka: str) -> str:
    """Rule 1: BPJS-style VA, the provider prefix 88888 and the head's card number."""
    return "88888" + noka[2:]


def reuses_open(*, open_bills: Collection[Hashable], open_amount_idr: int, open_expires_at: datetime,
                bills: Collection[Hashable], amount_idr: int, now: datetime) -> bool:
    """Rule 2: whether a request for ``bills`` (keys such as (participant, period)) worth
    ``amount_idr`` gets the family's open payment back rather than superseding it."""
    return set(open_bills) == set(bills) and open_amount_idr == amount_idr and now < open_expires_at


def verify_signature(secret: str, raw_body: bytes, signature: str) -> None:
    """Rule 3 (constant-time; any text may be given: a header is not always ASCII)."""
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace")):
        raise Unauthenticated("bad payment callback signature")


@dataclass(frozen=True)
class Callback:
    payment_id: uuid.UUID
    virtual_account: str
    amount_idr: int
    paid_at: datetime
    provider_ref: str


class _Invalid(ValueError):
    """One field of the body without its shape (rule 4)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _required(body: dict[str, Any], field: str) -> Any:
    value = body.get(field)
    if value is None or value == "":
        raise _Invalid("required", f"{field} is required")
    return value


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise _Invalid("invalid", "a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _Invalid("invalid", "a UUID") from None


def _text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not (isinstance(value, str) and len(value) <= MAX_TEXT and value.isascii() and value.isprintable()
            and value.strip()):
        raise _Invalid("invalid", f"1 to {MAX_TEXT} printable ASCII characters")
    return value


def _amount(value: Any) -> int:
    if (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16) or (
            isinstance(value, float) and value.is_integer()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT_IDR:
        raise _Invalid("invalid", f"whole rupiah, 1 to {MAX_AMOUNT_IDR}")
    return value


def _instant(value: Any) -> datetime:
    try:
        instant = datetime.fromisoformat(value) if isinstance(value, str) else None
        if instant is not None and instant.utcoffset() is not None:
            instant.astimezone(UTC)  # representable as UTC (not past year 1 or 9999 once shifted)
            return instant
    except (ValueError, OverflowError):
        pass
    raise _Invalid("invalid", "an ISO 8601 instant with its UTC offset")


_FIELDS = (("payment_id", _uuid), ("virtual_account", _text), ("amount", _amount), ("paid_at", _instant),
           ("provider_ref", _text))


def parse_callback(raw_body: bytes) -> Callback:
    """Rule 4: the callback, or a 422 naming every field that has not its shape."""
    try:
        body = json.loads(raw_body)
    except (ValueError, RecursionError) as error:
        raise _malformed([{"field": "body", "code": "invalid", "message": "a JSON object"}]) from error
    if not isinstance(body, dict):
        raise _malformed([{"field": "body", "code": "invalid", "message": "a JSON object"}])
    values: dict[str, Any] = {}
    errors = []
    for field, parse in _FIELDS:
        try:
            values[field] = parse(_required(body, field))
        except _Invalid as invalid:
            errors.append({"field": field, "code": invalid.code, "message": str(invalid)})
    if errors:
        raise _malformed(errors)
    return Callback(values["payment_id"], values["virtual_account"], values["amount"], values["paid_at"],
                    values["provider_ref"])


def _malformed(errors: list[dict[str, str]]) -> ValidationFailed:
    return ValidationFailed(errors, detail="malformed payment callback")


def check_matches(*, callback: Callback, amount_idr: int, account: str) -> None:
    """Rule 6, first half: the amount and the virtual account are exactly the payment's."""
    if callback.amount_idr != amount_idr or callback.virtual_account != account:
        raise DomainError("amount or account differs from the payment", code="PAYMENT_AMOUNT_MISMATCH")


def outcome(*, status: str, paid_at: datetime, expires_at: datetime) -> Outcome:
    """Rule 6, second half: what a matching callback does to a payment in ``status``."""
    if status == "PAID":
        return "paid_again"
    if status == "PENDING" and paid_at <= expires_at:
        return "paid"
    return "settled_late"


def overpaid_idr(*, amount_idr: int, newly_paid_idr: int) -> int:
    """Rule 7: the rupiah received beyond the bills the receipt newly paid (never negative)."""
    return max(0, amount_idr - newly_paid_idr)


def needs_reconciliation(overpaid: int) -> bool:
    """Rule 7."""
    return overpaid > 0

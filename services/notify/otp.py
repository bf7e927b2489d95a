"""One-time codes: the rules (CONTRACT.md §3 and issue 3), free of I/O.

- Rule 1: a code is 6 digits, unpredictable, bound to one verification (and through it to
  one purpose and one flow).
- Rule 2: a code is never stored. It is an HMAC-SHA256 of a random 128-bit nonce and the
  verification id under a server key (with a key id, so keys rotate): the nonce alone is
  useless without the key, and a resend re-derives the *same* code, as the contract wants.
  What a check compares is the code's *verifier*, another keyed HMAC (of the code, bound to
  the verification): stored beside the nonce at issue, computed from the submitted code at
  check, and compared inside Redis' atomic step — comparing two HMACs leaks nothing about the
  code, whatever the comparison's timing.
- Rule 3: lifetime 300 s by SMS, 600 s by email; a resend does not extend it.
- Rule 4: 5 wrong codes kill the verification; a resend does not reset the count.
- Rule 5: resends not before 60 s since the last send; per destination at most 5 sends in
  10 min and 10 in 24 h; per client IP 30 an hour; per number prefix a cap an hour; SMS
  overall a budget an hour (the SMS-pumping breaker); SMS only to allowed countries (+62).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import phonenumbers

CODE_DIGITS = 6
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class CodeKey:
    kid: str
    secret: bytes


def parse_code_keys(value: str) -> list[CodeKey]:
    """``"k2:secret2,k1:secret1"`` (newest first) → keys; a bare value is one key ``k0``."""
    keys = []
    for index, part in enumerate(p.strip() for p in value.split(",") if p.strip()):
        kid, sep, secret = part.partition(":")
        keys.append(CodeKey(kid, secret.encode()) if sep else CodeKey(f"k{index}", part.encode()))
    if not keys:
        raise ValueError("at least one OTP code key is required")
    return keys


def new_nonce() -> bytes:
    """Rule 2: the random part of a code (CSPRNG)."""
    return secrets.token_bytes(16)


def derive_code(key: CodeKey, verification_id: str, nonce: bytes) -> str:
    """Rule 2: the 6-digit code of one verification (bias of the modulo is below 2⁻⁴⁰)."""
    digest = hmac.new(key.secret, b"jkn-otp-code|" + verification_id.encode() + b"|" + nonce,
                      hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def code_matches(key: CodeKey, verification_id: str, nonce: bytes, submitted: str) -> bool:
    """Rule 1: compare in constant time; anything but 6 ASCII digits never matches (full-width
    digits such as "２８７８６８" are digits to Python, but no code)."""
    expected = derive_code(key, verification_id, nonce)
    candidate = submitted.strip()
    if len(candidate) != CODE_DIGITS or not (candidate.isascii() and candidate.isdigit()):
        candidate = "x" * CODE_DIGITS
    return hmac.compare_digest(expected, candidate)


def verifier(key: CodeKey, verification_id: str, code: str) -> str:
    """Rule 2: what a check compares — a keyed HMAC of a code, bound to its verification."""
    return hmac.new(key.secret, b"jkn-otp-verifier|" + verification_id.encode() + b"|" + code.encode(),
                    hashlib.sha256).hexdigest()


def candidate_verifiers(keys: list[CodeKey], verification_id: str, submitted: str) -> list[str]:
    """Rule 1: the submitted code's verifier under each key, as ``[kid, verifier, ...]``; anything
    but 6 ASCII digits gets ``""`` (never a match, still a counted guess)."""
    candidate = submitted.strip()
    valid = len(candidate) == CODE_DIGITS and candidate.isascii() and candidate.isdigit()
    flat: list[str] = []
    for key in keys:
        flat += [key.kid, verifier(key, verification_id, candidate) if valid else ""]
    return flat


def destination_hash(key: CodeKey, destination: str) -> str:
    """A stable pseudonym of a destination for rate-limit keys (no phone number in Redis key names)."""
    return hmac.new(key.secret, b"jkn-otp-dest|" + destination.encode(), hashlib.sha256).hexdigest()[:32]


def lifetime_s(channel: str, *, sms_s: int, email_s: int) -> int:
    """Rule 3 (phone channels other than SMS, such as WhatsApp, live as long as an SMS code)."""
    return email_s if channel == "email" else sms_s


@dataclass(frozen=True)
class Destination:
    channel: str  # "sms" | "email" | another phone channel (`channels`)
    address: str  # E.164 phone or lower-case email
    number_prefix: str  # SMS: the first digits, for the per-prefix cap; "" for email


class DestinationRejected(ValueError):
    """The destination is malformed (``malformed``: bad input, a 422 VALIDATION_ERROR) or a valid
    number outside the allowed countries (DESTINATION_NOT_ALLOWED)."""

    def __init__(self, message: str, *, malformed: bool = True):
        super().__init__(message)
        self.malformed = malformed


def parse_destination(channel: str, raw: str, *, allowed_country_codes: frozenset[int], prefix_digits: int
                      ) -> Destination:
    """Rule 5 (country allowlist) and the contract's normalisation (``08…`` → ``+628…``)."""
    raw = raw.strip()
    if channel == "email":
        if not _EMAIL.match(raw):
            raise DestinationRejected("not an email address")
        return Destination("email", raw.lower(), "")
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException as error:
        raise DestinationRejected("not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise DestinationRejected("not a valid phone number")
    if number.country_code not in allowed_country_codes:
        raise DestinationRejected("country not allowed", malformed=False)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Destination(channel, e164, e164[1:1 + prefix_digits])

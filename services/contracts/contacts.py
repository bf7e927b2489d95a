"""Contacts of people: phone numbers and email addresses.

Rule (CONTRACT.md §2): phone numbers are accepted as ``08…`` or ``+628…`` and kept in
E.164 (``+628…``); email addresses are compared case-insensitively.
"""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str, *, region: str = "ID") -> str | None:
    """``081234500006`` or ``+6281234500006`` → ``+6281234500006``; None if not a valid number."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_destination(raw: str) -> str:
    """A phone number in E.164, or an email address in lower case (anything else unchanged)."""
    raw = raw.strip()
    if "@" in raw:
        return raw.lower()
    return normalize_phone(raw) or raw

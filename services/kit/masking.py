"""Masking of personal data for logs, traces and screens (CONTRACT.md §2).

`mask_nik`, `mask_phone` and `mask_email` give the hints the contract shows people;
`scrub` is the safety net applied to every log line: anything that still looks like a
NIK/NOKA, a phone number or an email address is masked before it is written.
"""

from __future__ import annotations

import re

_NIK_OR_CARD = re.compile(r"(?<!\d)(\d{6})(\d{3,6})(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(\+62|62|0)(8\d{2})(\d{3,6})(\d{4})(?!\d)")
_DIGIT_RUN = re.compile(r"\d{11}")  # the shortest run the two patterns above can match
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_nik(nik: str) -> str:
    """``3171011501800001`` → ``317101******0001``: region code and last four digits stay."""
    if len(nik) < 10:
        return "*" * len(nik)
    return nik[:6] + "*" * (len(nik) - 10) + nik[-4:]


def mask_phone(phone: str) -> str:
    """``+6281234500006`` → ``+62812****0006``: country, operator prefix and last four stay."""
    if len(phone) < 10:
        return "*" * len(phone)
    keep = 6 if phone.startswith("+") else 4
    return phone[:keep] + "*" * (len(phone) - keep - 4) + phone[-4:]


def mask_email(email: str) -> str:
    """``budi@example.id`` → ``b***@example.id``: the first letter and the domain stay."""
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return (local[:1] or "*") + "***@" + domain


def scrub(text: str) -> str:
    """Mask every NIK/NOKA-, phone- and email-looking run in free text (logs' last line of defence).

    Text with no ``@`` and no run of 11 digits is returned at once: an email needs the ``@``, a
    phone number at least 11 digits in a row (``0`` + ``8xx`` + 3 + 4) and a NIK or card number 13
    (the access log's request ids and durations, on every request)."""
    if "@" not in text and _DIGIT_RUN.search(text) is None:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _PHONE.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)) + m.group(4), text)
    return _NIK_OR_CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)

"""Identifiers from clients: a malformed id is simply not found (never a database error).

- Rule 1: a NIK (Nomor Induk Kependudukan) has 16 ASCII digits; a NOKA (nomor kartu JKN) 13.
- Rule 2: an identifier a person types is a NIK if it has 16 digits, a NOKA if it has 13.
  (Membership's `identifiers` adds what a valid NIK must say: region, birth date, sex.)
"""

from __future__ import annotations

import uuid
from typing import Literal

NIK_LENGTH = 16
NOKA_LENGTH = 13


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def identifier_kind(identifier: str) -> Literal["nik", "noka"] | None:
    """Rule 2: "nik", "noka", or None for anything else."""
    if not (identifier.isascii() and identifier.isdigit()):
        return None
    if len(identifier) == NIK_LENGTH:
        return "nik"
    if len(identifier) == NOKA_LENGTH:
        return "noka"
    return None


def is_noka(value: str) -> bool:
    """Rule 1: a card number (NOKA) is 13 digits."""
    return identifier_kind(value) == "noka"


def is_nik(value: str) -> bool:
    """Rule 1: a NIK has the shape of 16 digits."""
    return identifier_kind(value) == "nik"

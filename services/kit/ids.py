"""Identifiers from clients: a malformed id is simply not found (never a database error).

- Rule 1: a NIK (Nomor Induk Kependudukan) has 16 ASCII digits; a NOKA (nomor kartu JKN) 13.
- Rule 2: an identifier a person types is a NIK if it has 16 digits, a NOKA if it has 13.
  (Membership's `identifiers` adds what a valid NIK must say: region, birth date, sex.)
"""

from __future__ import annotations

import re
from typing import Literal

NIK_LENGTH = 16
NOKA_LENGTH = 13


#: The spellings both Python and Postgres' ``uuid`` type read: 8-4-4-4-12 or 32 hex digits, any case,
#: optionally in braces (not ``urn:uuid:``, which Postgres refuses: a 500 waiting to happen).
_UUID = re.compile(r"\{?(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})\}?", re.I)


def is_uuid(value: str) -> bool:
    """A UUID as a client may spell it and the database can read it."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        return False
    return (value[0] == "{") == (value[-1] == "}")


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

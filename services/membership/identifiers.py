"""Identity numbers of participants.

- Rule 1: a NIK (Nomor Induk Kependudukan) is 16 digits: province (2) + regency (2) +
  district (2) + birth date DDMMYY, where women add 40 to the day + a 4-digit serial
  (not 0000). The province code must be one of Indonesia's provinces.
- Rule 2: the birth date inside a NIK must agree with the stated birth date and sex.
- Rules 3–4 (a NOKA is 13 digits; a typed identifier is a NIK with 16 digits, a NOKA with 13)
  are the kit's (`services.kit.ids`), shared with auth and queue; re-exported here.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from services.kit.ids import identifier_kind, is_nik, is_noka

__all__ = ["PROVINCES", "Sex", "identifier_kind", "is_nik", "is_noka", "nik_problems"]

#: Province codes (kode wilayah, Kemendagri), including the Papua provinces formed in 2022.
PROVINCES = frozenset({
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65,
    71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96, 97,
})

Sex = Literal["M", "F"]


def nik_problems(nik: str, *, birth_date: date | None = None, sex: Sex | None = None) -> list[str]:
    """Rules 1 and 2: the reasons ``nik`` is not acceptable (empty when it is)."""
    if identifier_kind(nik) != "nik":
        return ["not_16_digits"]
    problems = []
    if int(nik[:2]) not in PROVINCES or nik[2:4] == "00":
        problems.append("unknown_region")
    day, month, year2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    if nik[12:] == "0000":
        problems.append("serial_zero")
    try:
        date(2000 + year2, month, day)  # the day/month must exist (2000 allows 29 Feb)
    except ValueError:
        problems.append("invalid_birth_date")
        return problems
    if birth_date is not None and (birth_date.day, birth_date.month, birth_date.year % 100) != (day, month, year2):
        problems.append("birth_date_mismatch")
    if sex is not None and (sex == "F") != female:
        problems.append("sex_mismatch")
    return problems

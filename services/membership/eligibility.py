"""Eligibility checks by partner hospitals and clinics (CONTRACT.md §5, `CheckEligibility`).

- Rule 1: the participant is found by NOKA or NIK (participants rule 1); a service date, when
  given, must be a date ``YYYY-MM-DD``.
- Rule 2: a participant is eligible exactly when AKTIF (the answer also says the status, the
  reason, the class, the segment and the FKTP).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.membership import inputs, participants


@dataclass(frozen=True)
class Eligibility:
    participant: asyncpg.Record
    eligible: bool


def is_eligible(status: str) -> bool:
    """Rule 2."""
    return status == "AKTIF"


async def check(pool: asyncpg.Pool, *, noka: str, nik: str, service_date: str) -> Eligibility:
    """Rules 1–2."""
    if service_date:
        inputs.parse_date(service_date, "service_date")
    row = await participants.find(pool, noka=noka, nik=nik)
    return Eligibility(participant=row, eligible=is_eligible(row["status"]))

"""What a facility reads about its own data for its desk software (the bridge's BPJS reads,
CONTRACT.md §8): its polis and doctors, its sessions on a date (closed ones too), its bookings
with where each was made, and a referral issued to it.

- Rule 1: a facility reads only its own bookings (another's: PERMISSION_DENIED, as every partner
  call) and only referrals issued to it (another's: NOT_FOUND, so numbers cannot be probed).
- Rule 2: a date whose sessions are published (`rules.published_dates`) gets them made from the
  weekly hours first, so the doctors' sessions show before anyone booked.
"""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.kit.errors import NotFound
from services.queue import partner, rules, store

#: At most this many bookings of one day in one answer.
MAX_REGISTRATIONS = 2000


async def references(pool: asyncpg.Pool, facility: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """The facility's polis and doctors, by code."""
    polis = (await store.polis_of(pool, codes=[facility])).get(facility, [])
    return sorted(polis, key=lambda p: p["code"]), await store.doctors_of(pool, facility_code=facility)


async def sessions(pool: asyncpg.Pool, facility: str, *, day: date, poli_code: str | None,
                   now: datetime) -> list[asyncpg.Record]:
    """Rule 2; the sessions of ``day``, closed ones included."""
    if rules.published_dates(day, now=now):
        await store.ensure_sessions(pool, day=day, facility_code=facility)
    return await store.facility_sessions(pool, facility_code=facility, day=day,
                                         poli_code=poli_code.strip().upper() if poli_code else None)


async def registration(pool: asyncpg.Pool, facility: str, code: str) -> asyncpg.Record:
    """Rule 1: one of the facility's bookings."""
    row = await partner.own_booking(pool, facility, code)
    found = await store.registration(pool, code=row["code"])
    assert found is not None
    return found


async def registrations_on(pool: asyncpg.Pool, facility: str, *, day: date) -> list[asyncpg.Record]:
    """The facility's bookings of ``day``, every status, by poli and queue sequence."""
    return await store.registrations_on(pool, facility_code=facility, day=day, limit=MAX_REGISTRATIONS)


async def referral(pool: asyncpg.Pool, facility: str, number: str) -> tuple[asyncpg.Record, str, str]:
    """Rule 1: a referral issued to the facility, with the referring facility's and the poli's names."""
    number = number.strip().upper()
    row = await store.referral_with_visit_type(pool, number=number) if len(number) == rules.REFERRAL_LENGTH else None
    if row is None or row["to_facility"] != facility:
        raise NotFound("no such referral")
    source = await store.facility(pool, code=row["from_facility"])
    polis = {p["code"]: p["name"] for p in (await store.polis_of(pool, codes=[facility])).get(facility, [])}
    return row, source["name"] if source else "", polis.get(row["poli_code"], "")

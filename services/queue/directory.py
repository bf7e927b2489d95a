"""What participants look up before booking: a facility with its polis, the facility search, and
a facility's sessions on a date. The search rules are in `facilities`, the dates whose sessions
are published in `rules`."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.kit.errors import NotFound, ValidationFailed
from services.queue import facilities, rules, store

#: A facility's row and the rows of its polis.
FacilityWithPolis = tuple[asyncpg.Record, list[asyncpg.Record]]


async def facility(pool: asyncpg.Pool, *, code: str) -> FacilityWithPolis:
    """The facility by its code (any case, spaces ignored); NOT_FOUND when there is none."""
    row = await store.facility(pool, code=code.strip().upper())
    if row is None:
        raise NotFound("no such facility")
    polis = await store.polis_of(pool, codes=[row["code"]])
    return row, polis.get(row["code"], [])


async def search(pool: asyncpg.Pool, *, type_: str | None, lat: float | None, lon: float | None,
                 radius_km: float | None, q: str, limit: int) -> list[FacilityWithPolis]:
    """Facilities rule 1: nearest first within the radius of a point (both parts, a valid
    latitude and longitude), or by name without one; optionally of one type."""
    if (lat is None) != (lon is None) or (
            lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise ValidationFailed([{"field": "lat,lon", "code": "invalid", "message": "a valid point, both parts"}])
    rows = await store.search(pool, type_=type_, lat=lat, lon=lon, radius_km=facilities.clamp_radius(radius_km),
                              q=q.strip()[:64], limit=limit)
    polis = await store.polis_of(pool, codes=[r["code"] for r in rows])
    return [(row, polis.get(row["code"], [])) for row in rows]


async def schedules_on(pool: asyncpg.Pool, *, facility_code: str, day: date, poli_code: str | None,
                       now: datetime) -> list[asyncpg.Record]:
    """A facility's open sessions on ``day`` (optionally at one poli). A date whose sessions are
    published (`rules.published_dates`) gets them made from the weekly hours first, so the list
    shows them before anyone has booked; other dates show only what exists (per-date overrides)."""
    row = await store.facility(pool, code=facility_code.strip().upper())
    if row is None:
        raise NotFound("no such facility")
    if rules.published_dates(day, now=now):
        await store.ensure_sessions(pool, day=day, facility_code=row["code"])
    return await store.sessions_on(pool, facility_code=row["code"], day=day,
                                   poli_code=poli_code.strip().upper() if poli_code is not None else None)

"""Queue's SQL (its own database ``jkn_queue``)."""

from __future__ import annotations

import asyncpg

from services.queue import facilities


async def facility(conn: asyncpg.Pool | asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT code, name, type, address, lat, lon FROM facilities WHERE code = $1", code)


async def polis_of(conn: asyncpg.Pool | asyncpg.Connection, codes: list[str]) -> dict[str, list[asyncpg.Record]]:
    rows = await conn.fetch("SELECT facility_code, code, name FROM polis WHERE facility_code = ANY($1)"
                            " ORDER BY facility_code, code", codes)
    by_facility: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_facility.setdefault(row["facility_code"], []).append(row)
    return by_facility


async def search(conn: asyncpg.Pool | asyncpg.Connection, *, type_: str | None, lat: float | None,
                 lon: float | None, radius_km: float, q: str, limit: int) -> list[asyncpg.Record]:
    """Facilities nearest first inside the radius (bounding box on the index, exact distance after)."""
    pattern = f"%{q.lower()}%" if q else None
    if lat is None or lon is None:
        return await conn.fetch(
            "SELECT code, name, type, address, lat, lon, NULL::float8 AS distance_km FROM facilities"
            " WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR lower(name) LIKE $2)"
            " ORDER BY name LIMIT $3", type_, pattern, limit)
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(lat, lon, radius_km)
    return await conn.fetch(
        "SELECT * FROM (SELECT code, name, type, address, lat, lon, 2 * 6371.0 * asin(sqrt("
        " power(sin(radians(lat - $1) / 2), 2) + cos(radians($1)) * cos(radians(lat))"
        " * power(sin(radians(lon - $2) / 2), 2))) AS distance_km FROM facilities"
        " WHERE lat BETWEEN $3 AND $4 AND lon BETWEEN $5 AND $6"
        " AND ($7::text IS NULL OR type = $7) AND ($8::text IS NULL OR lower(name) LIKE $8)) near"
        " WHERE distance_km <= $9 ORDER BY distance_km LIMIT $10",
        lat, lon, min_lat, max_lat, min_lon, max_lon, type_, pattern, radius_km, limit)

"""The bulk generator makes valid, unique, realistically mixed participants that stay indexed."""

from __future__ import annotations

import asyncpg

from services.kit import db
from services.kit.clock import jakarta_today
from services.membership import bulk, identifiers
from services.membership.app import MIGRATIONS


async def test_bulk_load_is_valid_unique_mixed_and_indexed(fresh_database):
    dsn = fresh_database("membership_bulk")
    await db.migrate(dsn, MIGRATIONS)
    result = await bulk.load(dsn, 3000, batch=1000, today=jakarta_today())
    again = await bulk.load(dsn, 500, batch=1000, today=jakarta_today())  # a second run appends
    assert result["participants"] >= 3000 and again["participants"] >= 500
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT nik, noka, birth_date, sex, segment, status FROM participants")
        assert len(rows) == result["participants"] + again["participants"]
        assert len({r["nik"] for r in rows}) == len(rows) and len({r["noka"] for r in rows}) == len(rows)
        assert all(identifiers.nik_problems(r["nik"], birth_date=r["birth_date"], sex=r["sex"]) == [] for r in rows)
        segments = {s: sum(r["segment"] == s for r in rows) / len(rows) for s in ("PBI_APBN", "PPU", "PBPU")}
        assert 0.30 < segments["PBI_APBN"] < 0.55 and 0.15 < segments["PPU"] < 0.35 and segments["PBPU"] > 0.05
        inactive = await conn.fetchval(
            "SELECT count(DISTINCT family_id) FROM participants WHERE status = 'TIDAK_AKTIF'")
        unpaid = await conn.fetchval("SELECT count(*) FROM bills WHERE status = 'UNPAID'")
        assert inactive > 0 and unpaid >= inactive * 3
        for column, value in (("noka", rows[0]["noka"]), ("nik", rows[0]["nik"])):
            plan = "\n".join(r[0] for r in await conn.fetch(
                f"EXPLAIN SELECT * FROM participants WHERE {column} = $1", value))
            assert "Index Scan" in plan, plan
    finally:
        await conn.close()

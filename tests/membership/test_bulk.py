"""The bulk generator makes valid, unique, realistically mixed participants that stay indexed,
tops up idempotently, keeps NIK serials unique across loads and refuses a second loader."""

from __future__ import annotations

import asyncpg
import pytest

from services.kit import db
from services.kit.clock import jakarta_today
from services.membership import bulk, identifiers, premiums
from services.membership.app import MIGRATIONS


async def test_bulk_load_is_valid_unique_mixed_and_indexed(fresh_database):
    dsn = fresh_database("membership_bulk")
    await db.migrate(dsn, MIGRATIONS)
    today = jakarta_today()
    result = await bulk.load(dsn, 3000, batch=1000, today=today)
    again = await bulk.load(dsn, 500, batch=1000, today=today)  # a second run appends
    assert 3000 <= result["participants"] < 3010 and 500 <= again["participants"] < 510
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT p.id, nik, noka, birth_date, sex, segment, status, status_reason, relation,"
                                " family_id, care_class, f.kk_number FROM participants p JOIN families f"
                                " ON f.id = p.family_id")
        assert len(rows) == result["participants"] + again["participants"]
        assert len({r["nik"] for r in rows}) == len(rows) and len({r["noka"] for r in rows}) == len(rows)
        assert len({r["id"] for r in rows}) == len(rows)
        assert all(identifiers.nik_problems(r["nik"], birth_date=r["birth_date"], sex=r["sex"]) == [] for r in rows)
        assert all(identifiers.is_noka(r["noka"]) and int(r["noka"]) > bulk.NOKA_BASE for r in rows)
        assert all(r["birth_date"] <= today for r in rows)
        segments = {s: sum(r["segment"] == s for r in rows) / len(rows) for s in ("PBI_APBN", "PPU", "PBPU")}
        assert 0.30 < segments["PBI_APBN"] < 0.55 and 0.15 < segments["PPU"] < 0.35 and segments["PBPU"] > 0.05
        families: dict[int, list[asyncpg.Record]] = {}
        for r in rows:
            families.setdefault(r["family_id"], []).append(r)
        for members in families.values():  # one head, one segment/class/status per family, parents 18+ older
            assert [m["relation"] for m in members].count("HEAD") == 1
            assert len({(m["segment"], m["care_class"], m["status"]) for m in members}) == 1
            parents = [m["birth_date"] for m in members if m["relation"] != "CHILD"]
            for child in (m for m in members if m["relation"] == "CHILD"):
                assert all((child["birth_date"] - born).days >= 365 * 17 for born in parents)
        inactive = [r for r in rows if r["status"] == "TIDAK_AKTIF"]
        assert inactive and all(r["status_reason"] == "TUNGGAKAN_IURAN" and premiums.is_billed(r["segment"])
                                for r in inactive)
        bills = await conn.fetch("SELECT participant_id, period, amount_idr FROM bills WHERE status = 'UNPAID'")
        assert {b["participant_id"] for b in bills} == {r["id"] for r in inactive}
        assert len(bills) == 3 * len(inactive)
        assert all(premiums.due_date(b["period"]) < today for b in bills)
        # the load ends analyzed: the planner sees every row it made, not an empty table
        assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'participants'") == len(rows)
        for column, value in (("noka", rows[0]["noka"]), ("nik", rows[0]["nik"])):
            plan = "\n".join(r[0] for r in await conn.fetch(
                f"EXPLAIN SELECT * FROM participants WHERE {column} = $1", value))
            assert "Index Scan" in plan, plan
    finally:
        await conn.close()


async def test_serials_stay_unique_when_loads_share_nik_stems(fresh_database):
    """Every NIK stem (region + birth date) already taken gets the next serial, never a taken one."""
    dsn = fresh_database("membership_bulk_stems")
    await db.migrate(dsn, MIGRATIONS)
    for seed in (1, 1, 2):  # the same seed twice draws the same stems
        await bulk.load(dsn, 2000, seed=seed, workers=2, today=jakarta_today())
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) = count(DISTINCT nik) FROM participants")
        assert await conn.fetchval("SELECT count(*) FROM participants WHERE right(nik, 4)::int > 1") > 0
    finally:
        await conn.close()


async def test_top_up_is_idempotent_and_a_second_loader_is_refused(fresh_database):
    dsn = fresh_database("membership_bulk_top_up")
    await db.migrate(dsn, MIGRATIONS)
    first = await bulk.load_to(dsn, 1500)
    assert first["participants"] >= 1500 and first["present"] == first["participants"]
    assert (await bulk.load_to(dsn, 1500))["participants"] == 0  # already there: nothing loaded
    more = await bulk.load_to(dsn, 2500)
    assert more["present"] >= 2500 and more["participants"] < 1100
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", bulk.LOCK_KEY)
        with pytest.raises(RuntimeError, match="another bulk load"):
            await bulk.load(dsn, 100)
    finally:
        await holder.close()


def test_chunks_are_runs_of_whole_regions_and_cover_every_family_once():
    """A chunk is a range of family ids and the regions those families get, so no two chunks (loaded
    at the same time) share a NIK stem."""
    for families, chunks in ((1, 2), (7, 4), (1000, 2), (3_100_000, 18), (5000, 480)):
        ranges = bulk._chunk_ranges(101, families, chunks)
        ids = [i for low, high, _ in ranges for i in range(low, high + 1)] if families < 10_000 else []
        if ids:
            assert ids == list(range(101, 101 + families))
        assert ranges[0][0] == 101 and ranges[-1][1] == 100 + families
        assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        seen = [r for _, _, regions in ranges for r in regions]
        assert len(seen) == len(set(seen))
        for low, high, regions in ranges:  # the region of every family of a chunk is one of the chunk's
            for family in {low, high, (low + high) // 2}:
                assert bulk.REGIONS[(family - 101) * len(bulk.REGIONS) // families] in regions

"""Synthetic participants at national scale: ``make seed-bulk N=1000000``.

Realistic families for load and lookup tests: NIKs with real regency codes, birth dates
(women +40 on the day) and unique serials; 13-digit NOKAs from a range the demo data does
not use; a segment mix close to JKN's (about 60 % PBI, 25 % PPU, 15 % PBPU/BP); classes by
segment; one in six self-paying families in arrears (three unpaid months, TIDAK_AKTIF).
Rows are loaded with COPY in batches; N counts participants.

    python -m services.membership.bulk N [--database-url postgresql://...] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta

import asyncpg

from services.kit.clock import jakarta_today
from services.membership import premiums
from services.membership.seed import REGISTERED_ON
from services.membership.settings import MembershipSettings

REGENCIES = ["3171", "3172", "3173", "3174", "3175", "3273", "3275", "3276", "3578", "3374", "1271", "1371",
             "1671", "1871", "3471", "5171", "6171", "6471", "7371", "9471", "3201", "3204", "3216", "3515"]
FKTPS = [("0114U001", "Klinik Pratama Sehat Menteng"), ("0114U002", "Puskesmas Tanah Abang"),
         ("3273U001", "Puskesmas Sukajadi")]
SEGMENTS = [("PBI_APBN", 0.42), ("PBI_APBD", 0.18), ("PPU", 0.25), ("PBPU", 0.13), ("BP", 0.02)]
GIVEN = ["ADI", "AYU", "BAMBANG", "BUDI", "DEWI", "DIAN", "EKA", "FITRI", "HADI", "INDAH", "JOKO", "KARTIKA",
         "LESTARI", "MAYA", "NUR", "PUTRI", "RATNA", "RUDI", "SARI", "SITI", "TAUFIK", "WAHYU", "YULI", "ZAINAL"]
FAMILY = ["SANTOSO", "WIJAYA", "HARTONO", "PRATAMA", "SAPUTRA", "LESTARI", "KUSUMA", "NUGROHO", "SETIAWAN",
          "HIDAYAT", "SUSANTO", "RAHMAN", "SIREGAR", "NASUTION", "SIHOMBING", "PURBA", "WATI", "PUTRA"]
NOKA_BASE = 10_000_000_000  # 13 digits once zero-padded; the demo NOKAs are far below


class Generator:
    def __init__(self, seed: int, first_family_id: int, first_noka: int, today: date):
        self.rng = random.Random(seed)
        self.family_id, self.noka, self.today = first_family_id, first_noka, today
        self.serials: Counter[str] = Counter()

    def nik(self, region6: str, born: date, sex: str) -> str:
        day = born.day + (40 if sex == "F" else 0)
        stem = f"{region6}{day:02d}{born.month:02d}{born.year % 100:02d}"
        self.serials[stem] += 1
        return f"{stem}{self.serials[stem]:04d}"

    def birth(self, min_age: int, max_age: int) -> date:
        return self.today - timedelta(days=self.rng.randint(min_age * 365, max_age * 365))

    def family(self):
        """One family: (family row, participant rows, unpaid months)."""
        rng = self.rng
        self.family_id += 1
        region6 = rng.choice(REGENCIES) + f"{rng.randint(1, 20):02d}"
        segment = rng.choices([s for s, _ in SEGMENTS], [w for _, w in SEGMENTS])[0]
        care_class = 3 if segment.startswith("PBI") else rng.choice([1, 2] if segment == "PPU" else [1, 2, 3, 3])
        unpaid = 3 if premiums.is_billed(segment) and rng.random() < 1 / 6 else 0
        fktp_code, fktp_name = rng.choice(FKTPS)
        surname = rng.choice(FAMILY)
        head_sex = rng.choice("MF")
        members = [("HEAD", head_sex, self.birth(22, 70))]
        if rng.random() < 0.75:
            members.append(("SPOUSE", "F" if head_sex == "M" else "M", self.birth(20, 68)))
        youngest_parent = min(m[2] for m in members)
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            members.append(("CHILD", rng.choice("MF"), self.birth(0, max(1, (self.today - youngest_parent).days
                                                                           // 365 - 18))))
        status, reason = ("TIDAK_AKTIF", "TUNGGAKAN_IURAN") if unpaid else ("AKTIF", None)
        family_row = (self.family_id, f"{region6}{self.family_id % 10**10:010d}", f"Kel. {surname}, {region6}")
        rows = []
        for relation, sex, born in members:
            self.noka += 1
            rows.append((self.nik(region6, born, sex), f"{self.noka:013d}", f"{rng.choice(GIVEN)} {surname}", born,
                         sex, self.family_id, relation, segment, care_class, status, reason, fktp_code, fktp_name,
                         REGISTERED_ON))
        return family_row, rows, unpaid


PARTICIPANT_COLUMNS = ["nik", "noka", "name", "birth_date", "sex", "family_id", "relation", "segment", "care_class",
                       "status", "status_reason", "fktp_code", "fktp_name", "registered_on"]


async def load(dsn: str, count: int, *, seed: int = 7, batch: int = 50_000, today: date | None = None) -> dict:
    """Add about ``count`` participants (whole families) to the database at ``dsn``."""
    today = today or jakarta_today()
    conn = await asyncpg.connect(dsn)
    try:
        first_family = await conn.fetchval("SELECT coalesce(max(id), 0) FROM families")
        first_noka = max(NOKA_BASE, int(await conn.fetchval("SELECT coalesce(max(noka), '0') FROM participants")))
        generator = Generator(seed + first_family, first_family, first_noka, today)
        made, families, arrears = 0, 0, 0
        started = time.perf_counter()
        while made < count:
            family_rows: list[tuple[int, str, str]] = []
            participant_rows: list[tuple[object, ...]] = []
            bill_rows: list[tuple[str, int, int]] = []
            while len(participant_rows) < batch and made + len(participant_rows) < count:
                family_row, rows, unpaid = generator.family()
                family_rows.append(family_row)
                participant_rows.extend(rows)
                if unpaid:
                    arrears += 1
                    bill_rows.extend((row[1], unpaid, row[8]) for row in rows)
            async with conn.transaction():
                await conn.copy_records_to_table("families", records=family_rows,
                                                 columns=["id", "kk_number", "address"])
                await conn.copy_records_to_table("participants", records=participant_rows,
                                                 columns=PARTICIPANT_COLUMNS)
                if bill_rows:
                    await _arrears_bills(conn, bill_rows, today)
            made += len(participant_rows)
            families += len(family_rows)
        await conn.execute("SELECT setval(pg_get_serial_sequence('families', 'id'), (SELECT max(id) FROM families))")
        await conn.execute("ANALYZE families; ANALYZE participants; ANALYZE bills")
        return {"participants": made, "families": families, "families_in_arrears": arrears,
                "seconds": round(time.perf_counter() - started, 1)}
    finally:
        await conn.close()


async def active_at(dsn: str, fktp_code: str, count: int) -> list[asyncpg.Record]:
    """``count`` synthetic AKTIF participants registered at ``fktp_code`` (id, noka, nik, name,
    birth_date), the first by NOKA: the people benchmarks and tests book with. Fewer is an error."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id, noka, nik, name, birth_date FROM participants WHERE status = 'AKTIF'"
                                " AND fktp_code = $1 AND noka NOT LIKE '000%' ORDER BY noka LIMIT $2",
                                fktp_code, count)
    finally:
        await conn.close()
    if len(rows) < count:
        raise ValueError(f"only {len(rows)} active synthetic participants at {fktp_code}: load more")
    return rows


async def _arrears_bills(conn: asyncpg.Connection, rows: list[tuple[str, int, int]], today: date) -> None:
    """Three unpaid months past their due date for each member of a family in arrears."""
    past_due = [p for p in (premiums.shift_period(premiums.period_of(today), -n) for n in range(4))
                if premiums.due_date(p) < today][:3]
    await conn.execute("CREATE TEMP TABLE IF NOT EXISTS bulk_arrears (noka text, care_class int) ON COMMIT DROP")
    await conn.copy_records_to_table("bulk_arrears", records=[(noka, cls) for noka, _, cls in rows],
                                     columns=["noka", "care_class"])
    await conn.execute(
        "INSERT INTO bills (participant_id, period, amount_idr, status)"
        " SELECT p.id, period, CASE a.care_class WHEN 1 THEN 150000 WHEN 2 THEN 100000 ELSE 35000 END, 'UNPAID'"
        " FROM bulk_arrears a JOIN participants p ON p.noka = a.noka, unnest($1::text[]) AS period", past_due)


def main() -> None:
    parser = argparse.ArgumentParser(description="Load synthetic participants into the membership database.")
    parser.add_argument("count", type=int)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    dsn = args.database_url or MembershipSettings(env=os.environ.get("JKN_ENV", "dev")).database_url
    result = asyncio.run(load(dsn, args.count, seed=args.seed))
    sys.stdout.write(f"loaded {result['participants']} participants in {result['families']} families "
                     f"({result['families_in_arrears']} in arrears) in {result['seconds']} s\n")


if __name__ == "__main__":
    main()

"""Synthetic participants at national scale: ``make seed-bulk N=1000000``.

Realistic families for load and lookup tests: NIKs with real regency codes, birth dates
(women +40 on the day) and serials unique across loads; 13-digit NOKAs from a range the demo
data and enrolments do not use (consecutive within a family); a segment mix close to JKN's
(about 60 % PBI, 25 % PPU, 15 % PBPU/BP); classes by segment; children younger than their
parents by 18 years or more; one in six self-paying families in arrears (three unpaid months
past due, TIDAK_AKTIF).

How (1 M in about 20 s on two idle cores, a 9 M top-up to 10 M in about 3.3 min; Postgres spends
about 34 µs of CPU per row, see bench/README.md): nothing is
generated row by row in Python. Two connections draw every family's attributes (each half of
them, in one statement) into an UNLOGGED staging table; the families are dealt to the regions in
id order, the same number to each, and split into chunks of whole regions (a region's NIK stems
live in one chunk, so chunks never compete for a serial, and a chunk is a range of family ids).
The two connections each take chunks, expanding, numbering and inserting members, families and
bills in set-based SQL in one transaction per chunk, in NOKA order: a chunk's families, NOKAs
and ids (UUIDv7-shaped) are consecutive and ascend together, so three of the four participant
indexes (and the families' and bills' keys) take each row at their right end, where the B-tree's
rightmost-leaf fast path skips the descent from the root (about 7 % less Postgres CPU per row
than inserting in NIK order, measured on a 2 M top-up); the NIK index is written inside the few
pages of the chunk's regions, however large the table (when a chunk's NOKAs were spread over the
whole load, its writes were random all over indexes larger than the buffer cache). The loading
sessions skip synchronous commit and, as a superuser, the per-row foreign-key triggers (rows are
consistent by construction: a chunk inserts its families before their members, its members
before their bills). A session advisory lock refuses a second loader running at the same time.
The load ends settled: VACUUM (ANALYZE) and a checkpoint (when the role may), so the first
reads after it neither plan for an empty table nor pay for the load's writes.

The indexes and constraints stay in place (a running stack may use the tables during a load, and
a unique index dropped meanwhile could not be built again over a duplicate an enrolment made).
Measured per row in Postgres CPU (1 M from nothing): about 35 µs in all, of which about 15 µs
the four participant indexes and 8 µs the CHECKs (mostly the NIK, NOKA and KK regular
expressions); building the four indexes after the rows would cost about 6 µs a row, the old rows
too, but is only safe with the tables to the loader alone.

    python -m services.membership.bulk N [--add] [--database-url postgresql://...] [--seed S]

``N`` is the number of synthetic participants wanted: an existing load counts, so running it
again does nothing (``--add``: add N more). ``load(dsn, n)`` adds, ``load_to(dsn, n)`` tops up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from datetime import date

import asyncpg

from services.kit.clock import jakarta_today
from services.membership import premiums
from services.membership.seed import REGISTERED_ON
from services.membership.settings import MembershipSettings

REGENCIES = ["3171", "3172", "3173", "3174", "3175", "3273", "3275", "3276", "3578", "3374", "1271", "1371",
             "1671", "1871", "3471", "5171", "6171", "6471", "7371", "9471", "3201", "3204", "3216", "3515"]
DISTRICTS = 20  # district codes 01..20 of each regency
REGIONS = sorted(regency + f"{district:02d}" for regency in REGENCIES for district in range(1, DISTRICTS + 1))
FKTPS = [("0114U001", "Klinik Pratama Sehat Menteng"), ("0114U002", "Puskesmas Tanah Abang"),
         ("3273U001", "Puskesmas Sukajadi")]
SEGMENTS = [("PBI_APBN", 0.42), ("PBI_APBD", 0.18), ("PPU", 0.25), ("PBPU", 0.13), ("BP", 0.02)]
GIVEN = ["ADI", "AYU", "BAMBANG", "BUDI", "DEWI", "DIAN", "EKA", "FITRI", "HADI", "INDAH", "JOKO", "KARTIKA",
         "LESTARI", "MAYA", "NUR", "PUTRI", "RATNA", "RUDI", "SARI", "SITI", "TAUFIK", "WAHYU", "YULI", "ZAINAL"]
FAMILY = ["SANTOSO", "WIJAYA", "HARTONO", "PRATAMA", "SAPUTRA", "LESTARI", "KUSUMA", "NUGROHO", "SETIAWAN",
          "HIDAYAT", "SUSANTO", "RAHMAN", "SIREGAR", "NASUTION", "SIHOMBING", "PURBA", "WATI", "PUTRA"]
CHILDREN = [0, 1, 1, 2, 2, 3]
SPOUSE_SHARE = 0.75
ARREARS_SHARE = 1 / 6  # of the self-paying families
NOKA_BASE = 10_000_000_000  # 13 digits once zero-padded; the demo NOKAs and enrolments' noka_seq are below
MAX_MEMBERS = 1 + 1 + max(CHILDREN)  # NOKAs reserved per family
MEAN_MEMBERS = 1 + SPOUSE_SHARE + sum(CHILDREN) / len(CHILDREN)
LOCK_KEY = 0x6A6B6E5F62756C6B  # pg_advisory_lock key of the bulk loader ("jkn_bulk")
STAGE = "bulk_families"

_SEGMENT_CASE = "CASE " + " ".join(
    f"WHEN r_seg < {sum(w for _, w in SEGMENTS[:i + 1]):.4f} THEN '{s}'" for i, (s, _) in enumerate(SEGMENTS[:-1])
) + f" ELSE '{SEGMENTS[-1][0]}' END"
_PREMIUM_CASE = "CASE care_class " + " ".join(
    f"WHEN {c} THEN {amount}" for c, amount in sorted(premiums.MONTHLY_PREMIUM_IDR.items())) + " END"


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


# One row per family to be: every attribute but the region drawn at once (random(), seeded in the
# session), with the running count of members that tells where the load ends.
_CREATE_STAGE = f"""
CREATE UNLOGGED TABLE {STAGE} (
    id bigint, segment text, care_class smallint, unpaid int, fktp int, surname int,
    head_sex text, spouse boolean, children int, head_born date, spouse_born date, running_members bigint)
"""

_STAGE_FAMILIES = f"""
INSERT INTO {STAGE}
SELECT id, segment, care_class,
       CASE WHEN segment = ANY($4::text[]) AND r_unpaid < {ARREARS_SHARE} THEN 3 ELSE 0 END AS unpaid,
       fktp, surname, head_sex, spouse, children, head_born, spouse_born,
       sum(1 + spouse::int + children) OVER (ORDER BY id) AS running_members
FROM (
    SELECT id, segment, fktp, surname, head_sex, spouse, children, head_born, spouse_born, r_unpaid,
           CASE WHEN segment LIKE 'PBI%' THEN 3 WHEN segment = 'PPU' THEN 1 + floor(r_class * 2)::int
                ELSE (ARRAY[1, 2, 3, 3])[1 + floor(r_class * 4)::int] END AS care_class
    FROM (
        SELECT id, {_SEGMENT_CASE} AS segment, r_class, r_unpaid, fktp, surname, head_sex, spouse, children,
               $3::date - (22 * 365 + floor(r_head * (48 * 365 + 1))::int) AS head_born,
               $3::date - (20 * 365 + floor(r_spouse * (48 * 365 + 1))::int) AS spouse_born
        FROM (
            SELECT id, random() AS r_seg, random() AS r_class, random() AS r_unpaid,
                   floor(random() * {len(FKTPS)})::int AS fktp, floor(random() * {len(FAMILY)})::int AS surname,
                   CASE WHEN random() < 0.5 THEN 'M' ELSE 'F' END AS head_sex,
                   random() < {SPOUSE_SHARE} AS spouse,
                   ({_array([str(c) for c in CHILDREN]).replace("'", "")})[1 + floor(random() * {len(CHILDREN)})::int]
                       AS children,
                   random() AS r_head, random() AS r_spouse
            FROM generate_series($1::bigint, $2::bigint) AS id
        ) drawn
    ) named
) classed
"""

# A family's region: the loaded families are dealt to the regions (in NIK order) in id order, as
# many to each, so a region's families, hence its NOKAs and ids, are consecutive, and a chunk (a
# run of regions) is a range of family ids.
def _region(first: str, families: str, regions: str) -> str:
    """SQL: the region of the staged family ``s`` (parameters: first family id, families, REGIONS)."""
    return f"({regions}::text[])[1 + ((s.id - {first}) * {len(REGIONS)} / {families})::int]"


# A chunk's families (in the chunk's transaction, before their members), in id order.
# $1/$2 the chunk's first/last family id, $3 the load's first family id, $4 families loaded,
# $5 REGIONS, $6 surnames.
_CHUNK_FAMILIES = f"""
INSERT INTO families (id, kk_number, address)
SELECT id, region6 || lpad((id % 10000000000)::text, 10, '0'), 'Kel. ' || ($6::text[])[1 + surname] || ', ' || region6
FROM (SELECT s.id, s.surname, {_region("$3", "$4", "$5")} AS region6 FROM {STAGE} s WHERE s.id BETWEEN $1 AND $2) f
ORDER BY id
"""

# One chunk (after its families): the members, numbered per NIK stem after the serials already
# taken and inserted in NOKA order, and the arrears' bills. $1/$2 the chunk's first/last family
# id, $3 the load's first family id, $4 NOKA before it, $5 today, $6 past-due periods, $7 surnames,
# $8 given names, $9/$10 FKTP codes/names, $11 registered on, $12 the chunk's region codes, $13 the
# ids' high half, $14 families loaded, $15 REGIONS (see ``_region``).
# Ids are UUIDv7-shaped (the load's start in ms, then the NOKA's number): unique, cheap, ordered
# (gen_random_uuid() costs more than the rest of a row). In NOKA order the ids, NOKAs and family
# ids ascend together (each index appended at its right end); the NIKs of the chunk's regions are
# shuffled, but only among those regions' (a few thousand index pages at most). The numbering
# sorts by stem in byte order (COLLATE "C": the NIK index's order for digits, and far cheaper
# than the database's collation).
_LOAD_CHUNK = f"""
WITH members AS MATERIALIZED (
    SELECT family_id, segment, care_class, unpaid, fktp, surname, noka_number, relation, sex, born,
           region6 || lpad((extract(day FROM born)::int + CASE sex WHEN 'F' THEN 40 ELSE 0 END)::text, 2, '0')
               || to_char(born, 'MMYY') AS stem
    FROM (
        SELECT f.id AS family_id, f.region6, f.segment, f.care_class, f.unpaid, f.fktp, f.surname,
               $4::bigint + (f.id - $3) * {MAX_MEMBERS} + m.idx + 1 AS noka_number, m.relation, m.sex, m.born
        FROM (SELECT s.*, {_region("$3", "$14", "$15")} AS region6 FROM {STAGE} s WHERE s.id BETWEEN $1 AND $2) f
        CROSS JOIN LATERAL (
            SELECT 0 AS idx, 'HEAD' AS relation, f.head_sex AS sex, f.head_born AS born
            UNION ALL
            SELECT 1, 'SPOUSE', CASE f.head_sex WHEN 'M' THEN 'F' ELSE 'M' END, f.spouse_born WHERE f.spouse
            UNION ALL
            SELECT 1 + k, 'CHILD', CASE WHEN random() < 0.5 THEN 'M' ELSE 'F' END,
                   $5::date - floor(random() * (greatest(1, ($5::date - CASE WHEN f.spouse
                       THEN greatest(f.head_born, f.spouse_born) ELSE f.head_born END) / 365 - 18) * 365 + 1))::int
            FROM generate_series(1, f.children) AS k
        ) m
    ) expanded
), taken AS (
    SELECT left(p.nik, 12) AS stem, max(right(p.nik, 4)::int) AS serial
    FROM unnest($12::text[]) AS r(region6) JOIN participants p ON p.nik > r.region6 AND p.nik < r.region6 || 'A'
    GROUP BY 1
), people AS (
    INSERT INTO participants (id, nik, noka, name, birth_date, sex, family_id, relation, segment, care_class,
                              status, status_reason, fktp_code, fktp_name, registered_on)
    SELECT encode(int8send($13::bigint) || int8send(-9223372036854775807 - 1 + n.noka_number), 'hex')::uuid,
           n.stem || lpad((coalesce(taken.serial, 0)
                           + row_number() OVER (PARTITION BY n.stem COLLATE "C" ORDER BY n.noka_number))::text, 4, '0'),
           lpad(n.noka_number::text, 13, '0'),
           ($8::text[])[1 + floor(random() * {len(GIVEN)})::int] || ' ' || ($7::text[])[1 + n.surname],
           n.born, n.sex, n.family_id, n.relation, n.segment, n.care_class,
           CASE WHEN n.unpaid > 0 THEN 'TIDAK_AKTIF' ELSE 'AKTIF' END,
           CASE WHEN n.unpaid > 0 THEN 'TUNGGAKAN_IURAN' END,
           ($9::text[])[1 + n.fktp], ($10::text[])[1 + n.fktp], $11::date
    FROM members n LEFT JOIN taken ON taken.stem = n.stem
    ORDER BY n.noka_number
    RETURNING id, care_class, status
)
INSERT INTO bills (participant_id, period, amount_idr, status)
SELECT people.id, period, {_PREMIUM_CASE}, 'UNPAID'
FROM people CROSS JOIN unnest($6::text[]) AS period
WHERE people.status = 'TIDAK_AKTIF'
"""


async def _session(conn: asyncpg.Connection) -> bool:
    """Loading-session settings; True when the per-row foreign-key triggers are skipped."""
    await conn.execute("SET synchronous_commit = off; SET work_mem = '256MB'")
    if await conn.fetchval("SELECT current_setting('is_superuser') = 'on'"):
        await conn.execute("SET session_replication_role = replica")
        return True
    return False


def _past_due(today: date) -> list[str]:
    """The last three months past their due date."""
    periods = (premiums.shift_period(premiums.period_of(today), -n) for n in range(4))
    return [p for p in periods if premiums.due_date(p) < today][:3]


async def synthetic_count(conn: asyncpg.Connection) -> int:
    """Participants the bulk loader made (NOKAs from ``NOKA_BASE`` up)."""
    return int(await conn.fetchval("SELECT count(*) FROM participants WHERE noka >= $1", f"{NOKA_BASE:013d}"))


def _chunk_ranges(first_family: int, families: int, chunks: int) -> list[tuple[int, int, list[str]]]:
    """Each chunk's first and last family id and its regions: consecutive regions, as many per
    chunk, and the families dealt to the regions in id order (see ``_region``)."""
    ranges = []
    for chunk in range(chunks):
        lo, hi = chunk * len(REGIONS) // chunks, (chunk + 1) * len(REGIONS) // chunks
        start, end = -(-lo * families // len(REGIONS)), -(-hi * families // len(REGIONS))
        if start < end:
            ranges.append((first_family + start, first_family + end - 1, REGIONS[lo:hi]))
    return ranges


async def load(dsn: str, count: int, *, seed: int | None = None, batch: int = 500_000, workers: int = 2,
               today: date | None = None, phases: dict[str, float] | None = None) -> dict:
    """Add ``count`` participants (whole families, the last one may pass ``count`` by a few) to
    the database at ``dsn``; about ``batch`` participants a chunk (a transaction), ``workers``
    connections. ``phases`` (when given) receives the seconds each phase took."""
    today = today or jakarta_today()
    workers = max(1, workers)
    timings = phases if phases is not None else {}
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    loaders: list[asyncpg.Connection] = []
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            raise RuntimeError("another bulk load is running against this database")
        await _session(conn)
        first_family = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM families")) + 1
        noka_before = max(NOKA_BASE, int(await conn.fetchval("SELECT coalesce(max(noka), '0') FROM participants")))
        planned = math.ceil(count / MEAN_MEMBERS * 1.03) + 50  # enough families, whatever the draw
        # as many chunks per connection (no straggler at the end), each a run of whole regions
        chunks = min(len(REGIONS), workers * math.ceil(max(1, math.ceil(count / batch)) / workers))
        loaders = [await asyncpg.connect(dsn) for _ in range(workers)]
        for loader in loaders:
            await _session(loader)

        # the families drawn in as many parts as connections, at the same time; the running count
        # of members restarts in each part
        mark = time.perf_counter()
        await conn.execute(f"DROP TABLE IF EXISTS {STAGE}")
        await conn.execute(_CREATE_STAGE)
        draw = first_family if seed is None else seed  # a given seed draws the same families every time
        parts = [(first_family + part * planned // workers, first_family + (part + 1) * planned // workers - 1)
                 for part in range(workers)]

        async def stage(loader: asyncpg.Connection, part: int) -> None:
            await loader.execute("SELECT setseed($1)", (draw * 7919 + part * 15_485_863) % 1_000_003 / 1_000_003)
            await loader.execute(_STAGE_FAMILIES, *parts[part], today, sorted(premiums.SELF_PAYING_SEGMENTS))

        await asyncio.gather(*(stage(loader, part) for part, loader in enumerate(loaders)))
        await conn.execute(f"CREATE INDEX ON {STAGE} (id)")
        in_parts = [int(await conn.fetchval(f"SELECT running_members FROM {STAGE} WHERE id = $1", high))
                    for _, high in parts]
        # the part where the load ends (there is one: 3 % more families drawn than needed on average)
        part = next(p for p in range(workers) if sum(in_parts[:p + 1]) >= count)
        before = sum(in_parts[:part])  # members in the parts before
        last_family, in_last = await conn.fetchrow(
            f"SELECT id, running_members FROM {STAGE} WHERE id BETWEEN $1 AND $2 AND running_members >= $3"
            " ORDER BY id LIMIT 1", *parts[part], count - before)
        made = before + in_last
        await conn.execute(f"DELETE FROM {STAGE} WHERE id > $1", last_family)
        await conn.execute(f"ANALYZE {STAGE}")
        families = last_family - first_family + 1
        timings["stage_families_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        todo: asyncio.Queue[tuple[int, int, list[str]]] = asyncio.Queue()
        for task in _chunk_ranges(first_family, families, chunks):
            todo.put_nowait(task)
        past_due = _past_due(today)
        fktp_codes, fktp_names = [c for c, _ in FKTPS], [n for _, n in FKTPS]
        id_high = (int(time.time() * 1000) << 16) | 0x7000  # UUIDv7: 48-bit ms, version 7, then 12 bits (zero)

        async def worker(loader: asyncpg.Connection) -> None:
            await loader.execute(f"SELECT setseed({(draw * 104729) % 1_000_003 / 1_000_003})")
            while not todo.empty():
                low, high, regions = todo.get_nowait()
                async with loader.transaction():
                    await loader.execute(_CHUNK_FAMILIES, low, high, first_family, families, REGIONS, FAMILY)
                    await loader.execute(_LOAD_CHUNK, low, high, first_family, noka_before, today,
                                         past_due, FAMILY, GIVEN, fktp_codes, fktp_names, REGISTERED_ON,
                                         regions, id_high, families, REGIONS)

        await asyncio.gather(*(worker(loader) for loader in loaders))
        timings["insert_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        arrears = int(await conn.fetchval(f"SELECT count(*) FROM {STAGE} WHERE unpaid > 0"))
        await conn.execute(f"DROP TABLE {STAGE}")
        await conn.execute("SELECT setval(pg_get_serial_sequence('families', 'id'), (SELECT max(id) FROM families))")
        # VACUUM, not only ANALYZE: the visibility map set makes index-only scans (the next load's
        # serials) cheap, and autovacuum does not wake up on the new rows in the middle of a benchmark
        await conn.execute("VACUUM (ANALYZE) families, participants, bills")
        timings["vacuum_analyze_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        # a checkpoint writes the load's dirty buffers out now, counted in the load: not later by
        # the checkpointer (or by the backends that evict them) while the first reads are served
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # not superuser nor pg_checkpoint
            await conn.execute("CHECKPOINT")
        timings["checkpoint_s"] = time.perf_counter() - mark
        return {"participants": made, "families": families, "families_in_arrears": arrears,
                "seconds": round(time.perf_counter() - started, 1)}
    finally:
        for loader in loaders:
            await loader.close()
        await conn.close()


async def load_to(dsn: str, total: int, **options: object) -> dict:
    """Top the synthetic participants up to about ``total``: nothing to do when there are as many."""
    conn = await asyncpg.connect(dsn)
    try:
        present = await synthetic_count(conn)
    finally:
        await conn.close()
    if present >= total:
        return {"participants": 0, "families": 0, "families_in_arrears": 0, "seconds": 0.0, "present": present}
    result = await load(dsn, total - present, **options)  # type: ignore[arg-type]
    return {**result, "present": present + result["participants"]}


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


def main() -> None:
    parser = argparse.ArgumentParser(description="Load synthetic participants into the membership database.")
    parser.add_argument("count", type=int, help="synthetic participants wanted in all (with --add: to add)")
    parser.add_argument("--add", action="store_true", help="add COUNT participants whatever is there")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=None, help="draw exactly these families (default: new ones)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    dsn = args.database_url or MembershipSettings(env=os.environ.get("JKN_ENV", "dev")).database_url
    phases: dict[str, float] = {}
    if args.add:
        result = asyncio.run(load(dsn, args.count, seed=args.seed, workers=args.workers, phases=phases))
    else:
        result = asyncio.run(load_to(dsn, args.count, seed=args.seed, workers=args.workers, phases=phases))
        if not result["participants"]:
            sys.stdout.write(f"already {result['present']} synthetic participants (>= {args.count}): nothing to do;"
                             " --add loads more\n")
            return
    sys.stdout.write(f"loaded {result['participants']} participants in {result['families']} families "
                     f"({result['families_in_arrears']} in arrears) in {result['seconds']} s "
                     f"({result['participants'] / max(result['seconds'], 0.1):,.0f} rows/s; "
                     + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()) + ")\n")


if __name__ == "__main__":
    main()

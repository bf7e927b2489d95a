"""Membership's demo data (CONTRACT.md §6), relative to the stack's first day ("today")."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg

from services.membership import premiums

FKTP_NAMES = {
    "0114U001": "Klinik Pratama Sehat Menteng",
    "0114U002": "Puskesmas Tanah Abang",
    "3273U001": "Puskesmas Sukajadi",
}
REGISTERED_ON = date(2014, 1, 1)

# kk_number, address, members: (nik, noka, name, birth date, sex, relation, segment, class, fktp)
FAMILIES = [
    ("3171010101140001", "Jl. Menteng Raya No. 1, Jakarta Pusat", [
        ("3171011501800001", "0001234567801", "BUDI SANTOSO", date(1980, 1, 15), "M", "HEAD", "PBPU", 2, "0114U001"),
        ("3171015203820002", "0001234567802", "SRI RAHAYU", date(1982, 3, 12), "F", "SPOUSE", "PBPU", 2,
         "0114U001"),
        ("3171012107100003", "0001234567803", "ANDI SANTOSO", date(2010, 7, 21), "M", "CHILD", "PBPU", 2,
         "0114U001"),
    ]),
    ("3273020101140004", "Jl. Sukajadi No. 4, Bandung", [
        ("3273024506850004", "0002345678904", "SITI AMINAH", date(1985, 6, 5), "F", "HEAD", "PBPU", 3, "3273U001"),
    ]),
    ("3578010101140005", "Jl. Tanah Abang II No. 5, Jakarta Pusat", [
        ("3578010203900005", "0003456789005", "AGUS PRATAMA", date(1990, 3, 2), "M", "HEAD", "PPU", 1, "0114U002"),
    ]),
    ("5171010101140006", "Jl. Cikini No. 6, Jakarta Pusat", [
        ("5171014408950006", "0004567890006", "DEWI LESTARI", date(1995, 8, 4), "F", "HEAD", "PBI_APBN", 3,
         "0114U001"),
    ]),
    ("3171010101140007", "Jl. Kebon Sirih No. 7, Jakarta Pusat", [
        ("3171010505750007", "0005678900007", "RUDI HARTONO", date(1975, 5, 5), "M", "HEAD", "PBPU", 1, "0114U001"),
    ]),
]
IN_ARREARS = {"3273024506850004": 3}  # Siti: the last three months past their due date are unpaid
LAST_FKTP_CHANGE_DAYS_AGO = {"3578010203900005": 30}  # Agus


def billed_periods(today: date, months: int = 12) -> list[str]:
    """The last ``months`` periods up to the current one."""
    current = premiums.period_of(today)
    return [premiums.shift_period(current, -n) for n in range(months - 1, -1, -1)]


async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
    for kk_number, address, members in FAMILIES:
        family_id = await conn.fetchval(
            "INSERT INTO families (kk_number, address) VALUES ($1, $2) RETURNING id", kk_number, address)
        for nik, noka, name, born, sex, relation, segment, care_class, fktp_code in members:
            unpaid = IN_ARREARS.get(nik, 0)
            status, reason = ("TIDAK_AKTIF", "TUNGGAKAN_IURAN") if unpaid else ("AKTIF", None)
            participant_id = await conn.fetchval(
                "INSERT INTO participants (nik, noka, name, birth_date, sex, family_id, relation, segment,"
                " care_class, status, status_reason, fktp_code, fktp_name, registered_on)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
                nik, noka, name, born, sex, family_id, relation, segment, care_class, status, reason, fktp_code,
                FKTP_NAMES[fktp_code], REGISTERED_ON)
            if premiums.is_billed(segment):
                await _seed_bills(conn, participant_id, care_class, today, unpaid)
            if nik in LAST_FKTP_CHANGE_DAYS_AGO:
                changed_on = today - timedelta(days=LAST_FKTP_CHANGE_DAYS_AGO[nik])
                await conn.execute(
                    "INSERT INTO fktp_changes (participant_id, from_code, to_code, to_name, requested_on,"
                    " effective_date, applied) VALUES ($1, '0114U001', $2, $3, $4, $4, true)",
                    participant_id, fktp_code, FKTP_NAMES[fktp_code], changed_on)


async def _seed_bills(conn: asyncpg.Connection, participant_id, care_class: int, today: date, unpaid: int) -> None:
    """Paid bills for the past year, except the last ``unpaid`` periods already past due."""
    periods = [p for p in billed_periods(today) if premiums.due_date(p) < today or unpaid == 0]
    past_due = [p for p in periods if premiums.due_date(p) < today]
    overdue = set(past_due[-unpaid:]) if unpaid else set()
    for period in periods:
        status = "UNPAID" if period in overdue else "PAID"
        await conn.execute(
            "INSERT INTO bills (participant_id, period, amount_idr, status, paid_at)"
            " VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'PAID' THEN now() END)",
            participant_id, period, premiums.monthly_premium_idr(care_class), status)

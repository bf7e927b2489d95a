"""Queue's demo data (CONTRACT.md §6): facilities and polis, doctors and their weekly
schedules (every day of the week), and the referrals issued by 0114U001 to 0114R001."""

from __future__ import annotations

from datetime import date, time, timedelta

import asyncpg

from services.queue import rules, store

FACILITIES = [
    ("0114U001", "Klinik Pratama Sehat Menteng", "FKTP", "Jl. Menteng Raya No. 10, Jakarta Pusat", -6.1957, 106.8312,
     [("001", "Umum"), ("002", "Gigi")]),
    ("0114U002", "Puskesmas Tanah Abang", "FKTP", "Jl. KH Mas Mansyur No. 30, Jakarta Pusat", -6.2031, 106.8133,
     [("001", "Umum"), ("002", "Gigi")]),
    ("3273U001", "Puskesmas Sukajadi", "FKTP", "Jl. Sukajadi No. 150, Bandung", -6.8889, 107.5960,
     [("001", "Umum")]),
    ("0114R001", "RSUD Harapan Sehat", "FKRTL", "Jl. Cikini Raya No. 40, Jakarta Pusat", -6.1862, 106.8396,
     [("INT", "Penyakit Dalam"), ("ANA", "Anak"), ("MAT", "Mata")]),
]

#: (facility, poli, doctor code, doctor name, start, end, quota_jkn, quota_non_jkn)
SCHEDULES = [
    ("0114R001", "INT", "D0114R01", "dr. Andi Wijaya, Sp.PD", time(8), time(12), 30, 10),
    ("0114R001", "MAT", "D0114R02", "dr. Rina Kusuma, Sp.M", time(8), time(10), 3, 2),
    ("0114R001", "ANA", "D0114R03", "dr. Maya Putri, Sp.A", time(13), time(16), 20, 5),
    ("0114U001", "001", "D0114U01", "dr. Sari", time(8), time(14), 40, 10),
    ("0114U001", "002", "D0114U02", "drg. Bayu", time(8), time(12), 2, 1),
]

BUDI, ANDI = "0001234567801", "0001234567803"
#: (number, noka, poli, days before today it was issued)
REFERRALS = [
    ("0114U0011126Y000001", BUDI, "INT", 10),
    ("0114U0011126Y000002", BUDI, "MAT", 10),
    ("0114U0011126Y000003", ANDI, "ANA", 10),
    ("0114U0011126Y000009", BUDI, "INT", 100),
]


async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
    for code, name, type_, address, lat, lon, polis in FACILITIES:
        await conn.execute("INSERT INTO facilities (code, name, type, address, lat, lon)"
                           " VALUES ($1, $2, $3, $4, $5, $6)", code, name, type_, address, lat, lon)
        await conn.executemany("INSERT INTO polis (facility_code, code, name) VALUES ($1, $2, $3)",
                               [(code, poli, poli_name) for poli, poli_name in polis])
    for facility, poli, doctor, doctor_name, start, end, quota_jkn, quota_non_jkn in SCHEDULES:
        await store.upsert_doctor(conn, facility_code=facility, code=doctor, name=doctor_name)
        schedule_id = await store.upsert_schedule(conn, facility_code=facility, poli_code=poli, doctor_code=doctor)
        await store.replace_weekly_hours(conn, schedule_id=schedule_id, weekdays=list(range(1, 8)), start=start,
                                         end=end, quota_jkn=quota_jkn, quota_non_jkn=quota_non_jkn,
                                         valid_from=today - timedelta(days=365), valid_until=None)
    for number, noka, poli, days_ago in REFERRALS:
        issued = today - timedelta(days=days_ago)
        await store.insert_referral(conn, number=number, noka=noka, from_facility="0114U001", to_facility="0114R001",
                                    poli_code=poli, visit_type=1, issued_on=issued,
                                    valid_until=rules.referral_valid_until(issued))
    # New referrals of 0114U001 this month continue after the demo serials.
    await conn.execute("INSERT INTO referral_serials (facility_code, period, last_serial) VALUES ($1, $2, 9)"
                       " ON CONFLICT DO NOTHING", "0114U001", "1126")

"""Queue's demo data (CONTRACT.md §6): facilities and polis (schedules and referrals: issue 6)."""

from __future__ import annotations

from datetime import date

import asyncpg

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


async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
    for code, name, type_, address, lat, lon, polis in FACILITIES:
        await conn.execute("INSERT INTO facilities (code, name, type, address, lat, lon)"
                           " VALUES ($1, $2, $3, $4, $5, $6)", code, name, type_, address, lat, lon)
        await conn.executemany("INSERT INTO polis (facility_code, code, name) VALUES ($1, $2, $3)",
                               [(code, poli, poli_name) for poli, poli_name in polis])

"""Auth's demo accounts (CONTRACT.md §6): Dewi (email verified, PIN set) and Rudi."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.auth.passwords import Hasher

DEMO_PASSWORD = "Sehat#2026"
ACCOUNTS = [
    # noka, nik, name, birth date, phone, email, email verified, PIN
    ("0004567890006", "5171014408950006", "DEWI LESTARI", date(1995, 8, 4), "+6281234500006",
     "dewi.lestari@example.id", True, "240817"),
    ("0005678900007", "3171010505750007", "RUDI HARTONO", date(1975, 5, 5), "+6281234500007",
     "rudi.hartono@example.id", False, None),
]


def seeder(hasher: Hasher):
    async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
        for noka, nik, name, born, phone, email, verified, pin in ACCOUNTS:
            await conn.execute(
                "INSERT INTO accounts (noka, nik, name, birth_date, phone, email, email_verified, password_hash,"
                " pin_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", noka, nik, name, born, phone, email,
                verified, hasher.hash(DEMO_PASSWORD), hasher.hash(pin) if pin else None)

    return seed_demo

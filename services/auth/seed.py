"""Auth's demo accounts (CONTRACT.md §6): Dewi (email verified, PIN set) and Rudi."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.auth import store
from services.auth.passwords import Hasher
from services.kit.seed import SeedFunction

DEMO_PASSWORD = "Sehat#2026"
ACCOUNTS = [
    # noka, nik, name, birth date, phone, email, email verified, PIN
    ("0004567890006", "5171014408950006", "DEWI LESTARI", date(1995, 8, 4), "+6281234500006",
     "dewi.lestari@example.id", True, "240817"),
    ("0005678900007", "3171010505750007", "RUDI HARTONO", date(1975, 5, 5), "+6281234500007",
     "rudi.hartono@example.id", False, None),
]


def seeder(hasher: Hasher) -> SeedFunction:
    async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
        for noka, nik, name, born, phone, email, verified, pin in ACCOUNTS:
            await store.add_account(conn, noka=noka, nik=nik, name=name, birth_date=born, phone=phone, email=email,
                                    email_verified=verified, password_hash=hasher.hash(DEMO_PASSWORD),
                                    pin_hash=hasher.hash(pin) if pin else None)

    return seed_demo

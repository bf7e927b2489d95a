"""Demo data, seeded once per service database on the first start of the local stack.

Each service passes its own seed function; it runs in one transaction together with
the marker row, so a database is either fully seeded or not at all, and a restart never
seeds twice. Dates in demo data are relative to ``JKN_DEMO_TODAY`` (the day the stack
was first started), so the data reads the same however long the stack has existed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import asyncpg

from services.kit.clock import jakarta_today
from services.kit.logs import get_logger

log = get_logger("jkn.seed")
SeedFunction = Callable[[asyncpg.Connection, date], Awaitable[None]]


async def seed_once(pool: asyncpg.Pool, *, service: str, today: date | None, seed: SeedFunction) -> bool:
    """Run ``seed`` unless this database was seeded before; True when it ran now."""
    today = today or jakarta_today()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TABLE IF NOT EXISTS demo_seed ("
                           " service text PRIMARY KEY, today date NOT NULL, seeded_at timestamptz DEFAULT now())")
        await conn.execute("LOCK TABLE demo_seed IN EXCLUSIVE MODE")
        if await conn.fetchval("SELECT 1 FROM demo_seed WHERE service = $1", service):
            return False
        await seed(conn, today)
        await conn.execute("INSERT INTO demo_seed (service, today) VALUES ($1, $2)", service, today)
    log.info("demo_data_seeded", extra={"service": service, "today": today.isoformat()})
    return True

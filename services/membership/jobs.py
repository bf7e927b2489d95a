"""Membership's periodic work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date

import asyncpg

from services.kit.logs import get_logger
from services.kit.outbox import add_event
from services.membership import store

log = get_logger("jkn.membership.jobs")


async def apply_fktp_changes(pool: asyncpg.Pool, today: date) -> int:
    """FKTP rule 2: on its effective date a requested change becomes the participant's FKTP."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await store.apply_due_fktp_changes(conn, today)
        for row in moved:
            await add_event(conn, topic="membership.events", event_type="fktp_changed", key=row["noka"],
                            payload=json.dumps({"noka": row["noka"], "fktp_code": row["fktp_code"]}).encode())
    if moved:
        log.info("fktp_changes_applied", extra={"count": len(moved)})
    return len(moved)


async def run_periodically(pool: asyncpg.Pool, today: Callable[[], date], *, every_s: float = 3600) -> None:
    """Apply due FKTP changes at start and then every ``every_s`` (safe on many replicas: row locks)."""
    while True:
        try:
            await apply_fktp_changes(pool, today())
        except Exception as error:  # noqa: BLE001 - the next round tries again
            log.warning("fktp_job_failed", extra={"error": type(error).__name__})
        await asyncio.sleep(every_s)

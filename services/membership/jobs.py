"""Membership's periodic work."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.kit.logs import get_logger
from services.membership import events, premiums, store

log = get_logger("jkn.membership.jobs")


async def apply_fktp_changes(pool: asyncpg.Pool, today: date) -> int:
    """FKTP rule 2: on its effective date a requested change becomes the participant's FKTP."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await store.apply_due_fktp_changes(conn, today=today)
        for row in moved:
            await events.fktp_changed(conn, noka=row["noka"], fktp_code=row["fktp_code"])
    if moved:
        log.info("fktp_changes_applied", extra={"count": len(moved)})
    return len(moved)


async def roll_bills(pool: asyncpg.Pool, today: date) -> tuple[int, int]:
    """Premiums rules 3–4 over time: every self-paying participant is billed for the current
    month; once a bill passes its due date unpaid, the family becomes TIDAK_AKTIF."""
    async with pool.acquire() as conn, conn.transaction():
        billed = await store.bill_period(conn, period=premiums.period_of(today))
        lapsed = await store.deactivate_families_in_arrears(conn, today=today)
        for noka in lapsed:
            await events.status_changed(conn, noka=noka, status="TIDAK_AKTIF", reason="TUNGGAKAN_IURAN")
    if billed or lapsed:
        log.info("bills_rolled", extra={"billed": billed, "lapsed": len(lapsed)})
    return billed, len(lapsed)

"""Membership's periodic work."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.kit.logs import get_logger
from services.membership import events, premiums, store
from services.membership.stamps import Stamps

log = get_logger("jkn.membership.jobs")


async def apply_fktp_changes(pool: asyncpg.Pool, today: date, *, stamps: Stamps | None = None) -> int:
    """FKTP rule 2: on its effective date a requested change becomes the participant's FKTP (their
    families then read membership afresh, `stamps`)."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await store.apply_due_fktp_changes(conn, today=today)
        for row in moved:
            await events.fktp_changed(conn, noka=row["noka"], fktp_code=row["fktp_code"])
    if stamps is not None:
        await stamps.expire_families_of(pool, [row["noka"] for row in moved])
    if moved:
        log.info("fktp_changes_applied", extra={"count": len(moved)})
    return len(moved)


async def roll_bills(pool: asyncpg.Pool, today: date, *, stamps: Stamps | None = None) -> tuple[int, int]:
    """Premiums rules 3–4 over time: every self-paying participant is billed for the current
    month; once a bill passes its due date unpaid, the family becomes TIDAK_AKTIF (and reads
    membership afresh, `stamps`)."""
    async with pool.acquire() as conn, conn.transaction():
        billed = await store.bill_period(conn, period=premiums.period_of(today))
        lapsed = await store.deactivate_families_in_arrears(conn, today=today)
        for noka in lapsed:
            await events.status_changed(conn, noka=noka, status="TIDAK_AKTIF", reason="TUNGGAKAN_IURAN")
    if stamps is not None:
        await stamps.expire_families_of(pool, lapsed)
    if billed or lapsed:
        log.info("bills_rolled", extra={"billed": billed, "lapsed": len(lapsed)})
    return billed, len(lapsed)

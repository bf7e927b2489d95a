"""Membership's periodic work."""

from __future__ import annotations

import json
from datetime import date

import asyncpg

from services.kit.logs import get_logger
from services.kit.outbox import add_event
from services.membership import premiums, store

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


async def roll_bills(pool: asyncpg.Pool, today: date) -> tuple[int, int]:
    """Premiums rules 3–4 over time: every self-paying participant is billed for the current
    month; once a bill passes its due date unpaid, the family becomes TIDAK_AKTIF."""
    async with pool.acquire() as conn, conn.transaction():
        billed = await store.bill_period(conn, period=premiums.period_of(today))
        lapsed = await store.deactivate_families_in_arrears(conn, today)
        for noka in lapsed:
            await add_event(conn, topic="membership.events", event_type="status_changed", key=noka,
                            payload=json.dumps({"noka": noka, "status": "TIDAK_AKTIF",
                                                "status_reason": "TUNGGAKAN_IURAN"}).encode())
    if billed or lapsed:
        log.info("bills_rolled", extra={"billed": billed, "lapsed": len(lapsed)})
    return billed, len(lapsed)

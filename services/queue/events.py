"""Queue's events on ``queue.events`` (through the outbox, in the transaction of the change).

Auth turns them into messages for the account that made the booking (it owns the contacts):
``booking_created`` (booking confirmed), ``booking_reminder`` (the evening before),
``turn_near`` (three or fewer ahead), ``booking_cancelled`` (``by`` participant or facility),
``booking_no_show``, ``booking_checked_in``, ``task_recorded``.
"""

from __future__ import annotations

import json

import asyncpg

from services.kit.outbox import add_event
from services.queue import rules, store

TOPIC = "queue.events"


def booking_facts(row: asyncpg.Record) -> dict:
    """What a message about a booking may say (no names: the patient is known by NOKA only)."""
    estimate = rules.estimated_service_at(visit_date=row["date"], start=row["start_time"], seq=row["seq"])
    return {"booking_code": row["code"], "account_id": str(row["booked_by"]), "noka": row["noka"],
            "queue_number": rules.queue_number(row["poli_code"], row["seq"]), "date": row["date"].isoformat(),
            "facility": row["facility_name"], "poli": row["poli_name"], "estimated_time": f"{estimate:%H:%M}",
            "status": row["status"]}


async def announce(conn: asyncpg.Connection, event_type: str, code: str, **extra: object) -> asyncpg.Record:
    """Record ``event_type`` about booking ``code`` as it stands now in the caller's transaction;
    returns the booking (a `store.booking` view)."""
    row = await store.booking(conn, code)
    assert row is not None, "announced a booking that does not exist"
    await add_event(conn, topic=TOPIC, event_type=event_type, key=row["code"],
                    payload=json.dumps({**booking_facts(row), **extra}).encode())
    return row

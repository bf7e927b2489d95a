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
from services.queue import rules

TOPIC = "queue.events"


def booking_facts(row: asyncpg.Record) -> dict:
    """What a message about a booking may say (no names: the patient is known by NOKA only)."""
    estimate = rules.estimated_service_at(visit_date=row["date"], start=row["start_time"], seq=row["seq"])
    return {"booking_code": row["code"], "account_id": str(row["booked_by"]), "noka": row["noka"],
            "queue_number": rules.queue_number(row["poli_code"], row["seq"]), "date": row["date"].isoformat(),
            "facility": row["facility_name"], "poli": row["poli_name"], "estimated_time": f"{estimate:%H:%M}",
            "status": row["status"]}


async def publish(conn: asyncpg.Connection, event_type: str, row: asyncpg.Record, **extra: object) -> None:
    """Record ``event_type`` about the booking ``row`` (a `store.booking` view)."""
    await add_event(conn, topic=TOPIC, event_type=event_type, key=row["code"],
                    payload=json.dumps({**booking_facts(row), **extra}).encode())

"""What queue publishes on ``queue.events`` (`jkn/queue/v1/events.proto`), through the outbox, in
the transaction of the change.

Auth turns some into messages for the account that made the booking (it owns the contacts):
`BookingCreated` (booking confirmed), `BookingReminder` (the evening before), `TurnNear` (three
or fewer ahead), `BookingCancelled` by the facility. `BookingNoShow`, `BookingCheckedIn` and
`TaskRecorded` are for analytics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from jkn.queue.v1 import events_pb2
from services.kit.events import publish
from services.kit.kafka import QUEUE_EVENTS
from services.queue import rules, store

BookingCreated = events_pb2.BookingCreated
BookingReminder = events_pb2.BookingReminder
TurnNear = events_pb2.TurnNear
BookingCancelled = events_pb2.BookingCancelled
BookingNoShow = events_pb2.BookingNoShow
BookingCheckedIn = events_pb2.BookingCheckedIn
TaskRecorded = events_pb2.TaskRecorded
#: Who cancelled, as `bookings.cancel_in` names it.
CANCELLED_BY = {"participant": events_pb2.CANCELLED_BY_PARTICIPANT, "facility": events_pb2.CANCELLED_BY_FACILITY}


def booking_facts(row: Mapping[str, Any]) -> events_pb2.BookingFacts:
    """What a message about a booking may say (no names: the patient is known by NOKA only)."""
    estimate = rules.estimated_service_at(visit_date=row["date"], start=row["start_time"], seq=row["seq"])
    return events_pb2.BookingFacts(
        booking_code=row["code"], account_id=str(row["booked_by"]), noka=row["noka"],
        queue_number=rules.queue_number(row["poli_code"], row["seq"]), date=row["date"].isoformat(),
        facility=row["facility_name"], poli=row["poli_name"], estimated_time=f"{estimate:%H:%M}",
        status=row["status"])


async def announce(conn: asyncpg.Connection, code: str, event: type[Any], **fields: object) -> asyncpg.Record:
    """Publish ``event`` (one of the event classes above, with ``fields``) about booking ``code`` as it
    stands now in the caller's transaction; returns the booking (a `store.booking` view)."""
    row = await store.booking(conn, code=code)
    assert row is not None, "announced a booking that does not exist"
    await publish(conn, QUEUE_EVENTS, event(booking=booking_facts(row), **fields), key=row["code"])
    return row

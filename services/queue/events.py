"""What queue publishes on ``queue.events`` (`jkn/queue/v1/events.proto`), through the outbox, in
the transaction of the change.

Auth turns some into messages for the account that made the booking (it owns the contacts):
`BookingCreated` (booking confirmed), `BookingReminder` (the evening before), `TurnNear` (three
or fewer ahead), `BookingCancelled` by the facility. `BookingNoShow`, `BookingCheckedIn` and
`TaskRecorded` are for analytics. About waitlist entries (keyed by the entry's id):
`WaitlistOffered` (a seat is held for you), `WaitlistOfferExpired`, `WaitlistEnded` (the session
closed, the date passed); a seat booked from the waitlist is a `BookingCreated` with
``from_waitlist``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from jkn.queue.v1 import events_pb2
from services.kit.clock import JAKARTA
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
WaitlistOffered = events_pb2.WaitlistOffered
WaitlistOfferExpired = events_pb2.WaitlistOfferExpired
WaitlistEnded = events_pb2.WaitlistEnded
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


def waitlist_facts(row: Mapping[str, Any]) -> events_pb2.WaitlistFacts:
    """What a message about a waitlist entry may say (a `store.waitlist_entry` view; no names)."""
    expires = row["offer_expires_at"]
    return events_pb2.WaitlistFacts(
        waitlist_id=str(row["id"]), account_id=str(row["booked_by"]), noka=row["noka"], date=row["date"].isoformat(),
        facility=row["facility_name"], poli=row["poli_name"],
        offer_expires_time=f"{expires.astimezone(JAKARTA):%H:%M}" if expires is not None else "")


async def announce_entry(conn: asyncpg.Connection, waitlist_id: str, event: type[Any],
                         **fields: object) -> asyncpg.Record:
    """Publish ``event`` about waitlist entry ``waitlist_id`` as it stands now in the caller's
    transaction; returns the entry (a `store.waitlist_entry` view)."""
    row = await store.waitlist_entry(conn, waitlist_id=waitlist_id)
    assert row is not None, "announced a waitlist entry that does not exist"
    await publish(conn, QUEUE_EVENTS, event(entry=waitlist_facts(row), **fields), key=str(row["id"]))
    return row

"""Membership's and queue's events (protobuf) become SMS requests for the accounts they concern."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from google.protobuf.message import Message

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import events_pb2 as membership_events
from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import events_pb2 as queue_events
from services.auth.app import MIGRATIONS
from services.auth.notifications import on_membership_event, on_queue_event
from services.auth.passwords import Hasher
from services.auth.seed import seeder
from services.kit import db
from services.kit.consumer import Event
from services.kit.events import event_type
from services.kit.kafka import MEMBERSHIP_EVENTS, NOTIFY_REQUESTS, QUEUE_EVENTS

RUDI_NOKA, RUDI_PHONE = "0005678900007", "+6281234500007"


@pytest_asyncio.fixture
async def conn(fresh_database) -> AsyncIterator[asyncpg.Connection]:
    """A migrated auth database with the demo accounts (function scope: each test its own)."""
    dsn = fresh_database("auth_notify")
    await db.migrate(dsn, MIGRATIONS)
    connection = await asyncpg.connect(dsn)
    async with connection.transaction():
        await seeder(Hasher(memory_kib=19_456, time_cost=2, parallelism=1))(connection, None)
    yield connection
    await connection.close()


def event(event_id: str, topic: str, message: Message, key: str = "k") -> Event:
    return Event(event_id=event_id, event_type=event_type(message), topic=topic, key=key,
                 payload=message.SerializeToString())


async def outbox(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT event_id, topic, key, payload FROM outbox ORDER BY id")


async def rudi_id(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SELECT id FROM accounts WHERE noka = $1", RUDI_NOKA))


def facts(account_id: str) -> queue_events.BookingFacts:
    return queue_events.BookingFacts(
        booking_code="20261122INTK7QM2P", account_id=account_id, noka=RUDI_NOKA, queue_number="INT-3",
        date="2026-11-22", facility="RSUD Harapan Sehat", poli="Penyakit Dalam", estimated_time="08:20",
        status="BOOKED")


async def test_payment_received_is_sent_to_each_account_of_the_family(conn):
    paid = membership_events.PaymentReceived(payment_id="p-1", amount_idr=150000, periods=["2026-11", "2026-12"],
                                             nokas=[RUDI_NOKA, "0009999999999"])
    async with conn.transaction():
        await on_membership_event(event("e1", MEMBERSHIP_EVENTS, paid), conn)
        await on_membership_event(event("e2", MEMBERSHIP_EVENTS, membership_events.StatusChanged(noka=RUDI_NOKA)),
                                  conn)
    rows = await outbox(conn)
    assert len(rows) == 1 and rows[0]["topic"] == NOTIFY_REQUESTS
    request = notify_pb2.NotificationRequest.FromString(rows[0]["payload"])
    assert request.template == notify_pb2.NOTIFICATION_TEMPLATE_PAYMENT_RECEIVED
    assert request.to == RUDI_PHONE and request.channel == common_pb2.CHANNEL_SMS
    assert dict(request.params) == {"amount": "150.000", "periods": "2026-11, 2026-12"}
    assert request.request_id == f"payment:p-1:{await rudi_id(conn)}"


async def test_the_same_payment_handled_again_records_the_same_notification_event(conn):
    paid = membership_events.PaymentReceived(payment_id="p-2", amount_idr=42000, periods=["2026-11"],
                                             nokas=[RUDI_NOKA])
    async with conn.transaction():
        await on_membership_event(event("e1", MEMBERSHIP_EVENTS, paid), conn)
    first = (await outbox(conn))[0]["event_id"]
    await conn.execute("DELETE FROM outbox")
    async with conn.transaction():
        await on_membership_event(event("e1-replayed", MEMBERSHIP_EVENTS, paid), conn)
    assert (await outbox(conn))[0]["event_id"] == first


async def test_queue_events_reach_the_booker_with_the_templates_parameters(conn):
    account_id = await rudi_id(conn)
    booking = facts(account_id)
    async with conn.transaction():
        await on_queue_event(event("q1", QUEUE_EVENTS, queue_events.BookingCreated(booking=booking)), conn)
        await on_queue_event(event("q2", QUEUE_EVENTS, queue_events.BookingReminder(booking=booking)), conn)
        await on_queue_event(event("q3", QUEUE_EVENTS, queue_events.TurnNear(booking=booking, ahead=2)), conn)
        await on_queue_event(event("q4", QUEUE_EVENTS, queue_events.BookingCancelled(
            booking=booking, by=queue_events.CANCELLED_BY_FACILITY, reason="dokter berhalangan")), conn)
    rows = await outbox(conn)
    requests = [notify_pb2.NotificationRequest.FromString(r["payload"]) for r in rows]
    assert [r.template for r in requests] == [
        notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CONFIRMED, notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_REMINDER,
        notify_pb2.NOTIFICATION_TEMPLATE_TURN_NEAR, notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CANCELLED_BY_FACILITY]
    assert [r.request_id for r in requests] == ["queue:q1", "queue:q2", "queue:q3", "queue:q4"]
    assert {r.to for r in requests} == {RUDI_PHONE} and {r["key"] for r in rows} == {account_id.encode()}
    common = {"queue_number": "INT-3", "facility": "RSUD Harapan Sehat", "poli": "Penyakit Dalam",
              "date": "2026-11-22", "estimated_time": "08:20", "booking_code": "20261122INTK7QM2P"}
    assert dict(requests[0].params) == dict(requests[1].params) == common
    assert dict(requests[2].params) == {**common, "ahead": "2"}
    assert dict(requests[3].params) == {**common, "reason": "dokter berhalangan"}


async def test_a_cancellation_by_the_participant_and_analytics_events_tell_nobody(conn):
    booking = facts(await rudi_id(conn))
    async with conn.transaction():
        await on_queue_event(event("q1", QUEUE_EVENTS, queue_events.BookingCancelled(
            booking=booking, by=queue_events.CANCELLED_BY_PARTICIPANT, reason="batal")), conn)
        await on_queue_event(event("q2", QUEUE_EVENTS, queue_events.BookingNoShow(booking=booking)), conn)
        await on_queue_event(event("q3", QUEUE_EVENTS, queue_events.TaskRecorded(booking=booking, task_id=3)), conn)
        await on_queue_event(event("q4", QUEUE_EVENTS, queue_events.BookingCreated(
            booking=facts("7f1c2a52-52b7-4b8e-9d64-1f0e8c5a1b2c"))), conn)  # no such account
    assert await outbox(conn) == []

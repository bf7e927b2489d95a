"""Live queue position, turn-near announcements, no-shows and reminders (real Postgres)."""

from __future__ import annotations

import asyncio
from datetime import UTC, time, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.clock import jakarta_now
from services.kit.consumer import Event
from services.kit.events import parse
from services.kit.kafka import QUEUE_EVENTS
from services.queue import events, jobs, rules
from tests.queue.conftest import (
    DAY_S,
    TOMORROW,
    QueueWorld,
    active_participants_of,
    epoch_ms,
    signed,
    today,
    visit_moment,
)


async def _events(world: QueueWorld, event_class: type, codes: set[str], expected: int) -> list:
    """Events of ``event_class`` about ``codes`` that reached Kafka through the outbox relay, parsed
    with the generated class (read on for a second after the expected number arrived, so a
    duplicate would be seen)."""
    found: list = []
    reader = AIOKafkaConsumer(QUEUE_EVENTS, bootstrap_servers=world.kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    loop = asyncio.get_running_loop()
    try:
        deadline, settle = loop.time() + 20, None
        while loop.time() < (settle or deadline):
            for records in (await reader.getmany(timeout_ms=300)).values():
                for record in records:
                    event = parse(Event.from_record(record), event_class)
                    if event is not None and event.booking.booking_code in codes:
                        found.append(event)
            if len(found) >= expected and settle is None:
                settle = loop.time() + 1
    finally:
        await reader.stop()
    return found


async def test_progress_follows_the_days_pace_and_the_turn_near_is_announced_once(world: QueueWorld):
    day = today() + TOMORROW
    nokas = await active_participants_of(world.membership_dsn, "0114U001", 6)
    schedule_id = await world.schedule_id("0114U001", "001", day)
    booked = [(await world.book(n, "0114U001", "001", day, schedule_id=schedule_id)).booking for n in nokas]
    assert [b.queue_seq for b in booked] == [1, 2, 3, 4, 5, 6]
    clinic, start = signed("0114U001"), visit_moment()
    for booking in booked[:2]:
        await world.tomorrow_partner.CheckIn(partner_pb2.CheckInRequest(
            booking_code=booking.booking_code, at=epoch_ms(start)), metadata=clinic)
    # The first two patients start with the doctor 2 minutes apart: the pace is 2 min, not 10.
    for i, booking in enumerate(booked[:2]):
        for task_id, seconds in ((3, 30 + 10 * i), (4, 60 + 120 * i)):
            await world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
                booking_code=booking.booking_code, task_id=task_id, at=epoch_ms(start + timedelta(seconds=seconds))),
                metadata=clinic)
    last = await world.tomorrow_queue.GetBooking(queue_pb2.GetBookingRequest(
        caller=world.caller(nokas[5]), booking_code=booked[5].booking_code))
    asked_at = jakarta_now(DAY_S)
    assert last.progress.now_serving == "001-2" and last.progress.ahead == 3
    estimate = last.progress.estimated_service_at.ToDatetime(tzinfo=UTC)
    second_start, pace = start + timedelta(seconds=180), timedelta(minutes=2)
    assert second_start + 4 * pace - timedelta(seconds=1) <= estimate <= asked_at + 4 * pace + timedelta(seconds=1)

    codes = {b.booking_code for b in booked}
    near = [e.booking.queue_number for e in await _events(world, events.TurnNear, codes, 5)]
    # 001-1 going in brings 001-2..001-5 within three; 001-2 going in brings 001-6; each told once.
    assert sorted(near) == ["001-2", "001-3", "001-4", "001-5", "001-6"]


async def test_bookings_still_booked_after_the_session_become_no_shows_and_reminders_go_the_evening_before(
        world: QueueWorld):
    day = today() + TOMORROW
    nokas = await active_participants_of(world.membership_dsn, "0114U001", 2)
    kept, cancelled = [(await world.book(n, "0114U001", "002", day)).booking for n in nokas]
    await world.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=world.caller(nokas[1]),
                                                                   booking_code=cancelled.booking_code))
    pool = await asyncpg.create_pool(world.queue_dsn, min_size=1, max_size=2)
    try:
        afternoon = rules.at_jakarta(today(), time(15))
        assert await jobs.send_reminders(pool, afternoon) == 0  # not before 18:00
        evening = rules.at_jakarta(today(), time(18, 5))
        assert await jobs.send_reminders(pool, evening) == 1
        assert await jobs.send_reminders(pool, evening) == 0  # once
        assert await jobs.mark_no_shows(pool, rules.at_jakarta(day, time(11, 59))) == 0
        assert await jobs.mark_no_shows(pool, rules.at_jakarta(day, time(12, 1))) == 1
        statuses = dict(await pool.fetch("SELECT code, status FROM bookings WHERE code = ANY($1)",
                                         [kept.booking_code, cancelled.booking_code]))
    finally:
        await pool.close()
    assert statuses == {kept.booking_code: "NO_SHOW", cancelled.booking_code: "CANCELLED"}
    reminders = await _events(world, events.BookingReminder, {kept.booking_code, cancelled.booking_code}, 1)
    assert [e.booking.booking_code for e in reminders] == [kept.booking_code]

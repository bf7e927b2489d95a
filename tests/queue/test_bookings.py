"""Bookings against real queue and membership services: the demo flows of issue 6."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, timedelta

import asyncpg
import pytest

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.clock import JAKARTA
from tests.queue.conftest import (
    ANDI,
    BUDI,
    DEWI,
    RUDI,
    SITI,
    SRI,
    TOMORROW,
    QueueWorld,
    active_participants_of,
    refused,
    signed,
    today,
)

REFERRAL_INT, REFERRAL_MAT, EXPIRED_INT = "0114U0011126Y000001", "0114U0011126Y000002", "0114U0011126Y000009"


async def test_budi_books_int_with_his_referral_and_gets_int_1_at_0800(world: QueueWorld):
    day = today() + TOMORROW
    booking = (await world.book(BUDI, "0114R001", "INT", day, referral_number=REFERRAL_INT)).booking
    assert (booking.queue_number, booking.queue_seq, booking.status) == ("INT-1", 1, queue_pb2.BOOKING_STATUS_BOOKED)
    estimate = booking.estimated_service_at.ToDatetime(tzinfo=UTC).astimezone(JAKARTA)
    assert estimate.strftime("%Y-%m-%d %H:%M") == f"{day.isoformat()} 08:00"
    assert booking.remaining_jkn == 29 and booking.new_patient and booking.doctor.name.startswith("dr. Andi Wijaya")

    again = await refused(world.book(BUDI, "0114R001", "INT", day, referral_number=REFERRAL_INT))
    assert again.code == "DUPLICATE_BOOKING"


@pytest.mark.parametrize(("noka", "facility", "poli", "days", "fields", "code"), [
    (BUDI, "0114R001", "INT", 1, {}, "REFERRAL_REQUIRED"),
    (BUDI, "0114R001", "INT", 1, {"referral_number": EXPIRED_INT}, "REFERRAL_INVALID"),
    (BUDI, "0114R001", "ANA", 1, {"referral_number": REFERRAL_INT}, "REFERRAL_INVALID"),  # another poli
    (BUDI, "0114R001", "INT", 0, {"referral_number": REFERRAL_INT}, "BOOKING_WINDOW"),  # today
    (BUDI, "0114R001", "INT", 31, {"referral_number": REFERRAL_INT}, "BOOKING_WINDOW"),
    (SITI, "0114U001", "001", 1, {}, "PARTICIPANT_INACTIVE"),  # before the window, FKTP and referral rules
    (BUDI, "0114U002", "001", 1, {}, "FACILITY_NOT_REGISTERED"),  # not his FKTP
    (BUDI, "0114U001", "001", 2, {}, "BOOKING_WINDOW"),  # FKTP: today or tomorrow only
])
async def test_booking_rules_refuse_with_the_contract_code(world: QueueWorld, noka, facility, poli, days, fields,
                                                            code):
    if facility == "0114U002":  # the puskesmas publishes its weekly hours first
        await world.partner.UpsertWeeklySchedule(partner_pb2.UpsertWeeklyScheduleRequest(
            poli_code="001", doctor_code="D0114U21", doctor_name="dr. Tono", weekdays=list(range(1, 8)),
            start="07:30", end="23:59", quota_jkn=30, quota_non_jkn=5), metadata=signed("0114U002"))
    error = await refused(world.book(noka, facility, poli, today() + timedelta(days=days), **fields))
    assert error.code == code, error


async def test_andi_uses_his_own_referral_through_budi_and_a_stranger_is_not_found(world: QueueWorld):
    day = today() + TOMORROW
    booking = (await world.book(ANDI, "0114R001", "ANA", day, referral_number="0114U0011126Y000003",
                                caller=world.caller(BUDI))).booking
    assert booking.noka == ANDI
    stranger = await refused(world.book(DEWI, "0114U001", "001", day, caller=world.caller(BUDI)))
    assert stranger.code == "NOT_FOUND"  # Dewi is not in Budi's family


async def test_someone_elses_booking_is_not_found(world: QueueWorld):
    day = today() + TOMORROW
    booking = (await world.book(DEWI, "0114U001", "001", day)).booking
    for call in (world.queue.GetBooking(queue_pb2.GetBookingRequest(caller=world.caller(RUDI),
                                                                     booking_code=booking.booking_code)),
                 world.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=world.caller(RUDI),
                                                                           booking_code=booking.booking_code))):
        assert (await refused(call)).code == "NOT_FOUND"
    mine = await world.queue.GetBooking(queue_pb2.GetBookingRequest(caller=world.caller(DEWI),
                                                                     booking_code=booking.booking_code))
    assert mine.booking.booking_code == booking.booking_code and mine.progress.ahead == 0


async def test_five_at_once_on_two_seats_then_a_cancellation_frees_exactly_one(world: QueueWorld):
    day = today() + TOMORROW
    schedule_id = await world.schedule_id("0114U001", "002", day)
    attempts = [(BUDI, BUDI), (SRI, BUDI), (ANDI, BUDI), (DEWI, DEWI), (RUDI, RUDI)]
    results = await asyncio.gather(*(world.book(noka, "0114U001", "002", day, schedule_id=schedule_id,
                                                caller=world.caller(caller)) for noka, caller in attempts),
                                   return_exceptions=True)
    booked = [r.booking for r in results if isinstance(r, queue_pb2.CreateBookingResponse)]
    assert sorted(b.queue_seq for b in booked) == [1, 2]
    assert len(results) - len(booked) == 3
    for failure in (r for r in results if not isinstance(r, queue_pb2.CreateBookingResponse)):
        assert (await refused(_raise(failure))).code == "QUOTA_FULL"

    first = booked[0]
    owner = BUDI if first.noka in (BUDI, SRI, ANDI) else first.noka
    cancelled = await world.queue.CancelBooking(queue_pb2.CancelBookingRequest(
        caller=world.caller(owner), booking_code=first.booking_code, reason="sudah sembuh"))
    assert cancelled.booking.status == queue_pb2.BOOKING_STATUS_CANCELLED
    waiting = [n for n, _ in attempts if n not in {b.noka for b in booked}]
    again = await asyncio.gather(*(world.book(n, "0114U001", "002", day, schedule_id=schedule_id,
                                              caller=world.caller(BUDI if n in (BUDI, SRI, ANDI) else n))
                                   for n in waiting), return_exceptions=True)
    assert sum(isinstance(r, queue_pb2.CreateBookingResponse) for r in again) == 1
    assert [r.booking.queue_seq for r in again if isinstance(r, queue_pb2.CreateBookingResponse)] == [3]


async def _raise(error: BaseException):
    raise error


async def test_two_hundred_attempts_on_twenty_seats_take_exactly_twenty(world: QueueWorld):
    day = today() + TOMORROW
    nokas = await active_participants_of(world.membership_dsn, "0114U001", 200)
    session = await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="001", doctor_code="D0114U09", doctor_name="dr. Uji Beban", date=day.isoformat(), start="15:00",
        end="20:00", quota_jkn=20, quota_non_jkn=0), metadata=signed("0114U001"))
    results = await asyncio.gather(*(world.book(noka, "0114U001", "001", day, schedule_id=session.schedule_id)
                                     for noka in nokas), return_exceptions=True)
    booked = [r.booking for r in results if isinstance(r, queue_pb2.CreateBookingResponse)]
    assert sorted(b.queue_seq for b in booked) == list(range(1, 21))
    assert {(await refused(_raise(r))).code for r in results if isinstance(r, BaseException)} == {"QUOTA_FULL"}
    pool = await asyncpg.connect(world.queue_dsn)
    try:
        seqs = await pool.fetch("SELECT seq FROM bookings WHERE schedule_id = $1 AND date = $2 ORDER BY seq",
                                uuid.UUID(session.schedule_id), day)
        taken = await pool.fetchval("SELECT taken_jkn FROM sessions WHERE schedule_id = $1 AND date = $2",
                                    uuid.UUID(session.schedule_id), day)
    finally:
        await pool.close()
    assert [r["seq"] for r in seqs] == list(range(1, 21)) and taken == 20


async def test_the_same_idempotency_key_returns_the_same_booking_and_takes_one_seat(world: QueueWorld):
    day = today() + TOMORROW
    key = str(uuid.uuid4())
    first, second = await asyncio.gather(*(world.book(RUDI, "0114U001", "001", day, idempotency_key=key)
                                           for _ in range(2)))
    assert first.booking.booking_code == second.booking.booking_code
    assert sorted([first.replayed, second.replayed]) == [False, True]
    third = await world.book(RUDI, "0114U001", "001", day, idempotency_key=key)
    assert third.replayed and third.booking.booking_code == first.booking.booking_code
    listing = await world.queue.ListSchedules(queue_pb2.ListSchedulesRequest(
        facility_code="0114U001", date=day.isoformat(), poli_code="001"))
    assert [s.remaining_jkn for s in listing.schedules] == [39]
    other = await refused(world.book(RUDI, "0114U001", "002", day, idempotency_key=key))
    assert other.code == "VALIDATION_ERROR"  # the same key for a different request

    await world.book(DEWI, "0114U001", "001", day)  # the session changes; the replay does not
    await world.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=world.caller(RUDI),
                                                                   booking_code=first.booking.booking_code))
    later = await world.book(RUDI, "0114U001", "001", day, idempotency_key=key)
    assert later.replayed and later.booking == first.booking  # the first 201 body, byte for byte

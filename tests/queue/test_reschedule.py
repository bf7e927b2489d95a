"""Reschedule and a doctor's absence (CONTRACT.md §7), against real queue, membership and
Postgres: the new seat is taken under every booking rule before the old one is given up; a
refusal leaves the old booking exactly as it was; the referral carries over; the same
Idempotency-Key is one move; a closed session cancels its bookings DOCTOR_ABSENT, tells the
patients with the earliest alternative and lets them move in one call."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import asyncpg
import grpc
from aiokafka import AIOKafkaConsumer

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.consumer import Event
from services.kit.errors import decode_rpc_error
from services.kit.events import parse
from services.kit.kafka import QUEUE_EVENTS
from services.queue import events
from tests.queue.conftest import ANDI, BUDI, SRI, TOMORROW, QueueWorld, refused, signed, today

CLINIC, HOSPITAL = "0114U001", "0114R001"
BUDI_INT = "0114U0011126Y000001"


async def _session(world: QueueWorld, facility: str, poli: str, day: date, quota: int, *,
                   closed: bool = False, doctor: str = "DR01") -> str:
    reply = await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code=poli, poli_name=f"Poli Uji {poli}", doctor_code=doctor, doctor_name="dr. Uji Pindah",
        date=day.isoformat(), start="00:00", end="23:59", quota_jkn=quota, quota_non_jkn=0, closed=closed),
        metadata=signed(facility))
    return reply.schedule_id


def _move(world: QueueWorld, noka: str, code: str, schedule_id: str, day: date, *, key: str | None = None,
          **fields) -> grpc.aio.UnaryUnaryCall:
    request = queue_pb2.RescheduleBookingRequest(caller=world.caller(noka), booking_code=code,
                                                 schedule_id=schedule_id, date=day.isoformat(), **fields)
    if key:
        request.idempotency_key = key
    return world.queue.RescheduleBooking(request)


async def _get(world: QueueWorld, noka: str, code: str) -> queue_pb2.GetBookingResponse:
    return await world.queue.GetBooking(queue_pb2.GetBookingRequest(caller=world.caller(noka), booking_code=code))


async def _taken(world: QueueWorld, schedule_id: str, day: date) -> int:
    conn = await asyncpg.connect(world.queue_dsn)
    try:
        return await conn.fetchval("SELECT taken_jkn FROM sessions WHERE schedule_id = $1 AND date = $2",
                                   uuid.UUID(schedule_id), day)
    finally:
        await conn.close()


async def test_a_move_into_a_full_session_is_refused_and_the_old_booking_stays_exactly_as_it_was(world: QueueWorld):
    day = today() + TOMORROW
    old = (await world.book(BUDI, CLINIC, "001", day)).booking
    full = await _session(world, CLINIC, "R01", day, 1)
    await world.book(SRI, CLINIC, "R01", day, schedule_id=full)
    before = (await _get(world, BUDI, old.booking_code)).booking
    taken = await _taken(world, old.schedule_id, day)

    assert (await refused(_move(world, BUDI, old.booking_code, full, day))).code == "QUOTA_FULL"
    after = (await _get(world, BUDI, old.booking_code)).booking
    assert after == before and after.status == queue_pb2.BOOKING_STATUS_BOOKED
    assert not after.HasField("rescheduled_to") and not after.HasField("cancel_reason")
    assert await _taken(world, old.schedule_id, day) == taken
    assert await _taken(world, full, day) == 1


async def test_a_move_takes_the_new_seat_then_cancels_the_old_one_and_frees_its_seat(world: QueueWorld):
    day = today() + TOMORROW
    old = (await world.book(BUDI, CLINIC, "001", day)).booking
    target = await _session(world, CLINIC, "R02", day, 5)
    taken = await _taken(world, old.schedule_id, day)

    moved = (await _move(world, BUDI, old.booking_code, target, day)).booking
    assert moved.status == queue_pb2.BOOKING_STATUS_BOOKED and moved.schedule_id == target
    assert moved.rescheduled_from == old.booking_code and moved.noka == BUDI and moved.queue_seq == 1
    gone = (await _get(world, BUDI, old.booking_code)).booking
    assert gone.status == queue_pb2.BOOKING_STATUS_CANCELLED
    assert gone.cancel_reason == "RESCHEDULED" and gone.rescheduled_to == moved.booking_code
    assert await _taken(world, old.schedule_id, day) == taken - 1
    assert await _taken(world, target, day) == 1
    # moved away, it cannot be moved (or cancelled) again
    again = await _session(world, CLINIC, "R03", day, 5)
    assert (await refused(_move(world, BUDI, old.booking_code, again, day))).code == "BOOKING_NOT_CANCELLABLE"
    # the same poli on the same date with another doctor: the old booking does not count as a duplicate
    other_doctor = await _session(world, CLINIC, "R02", day, 5, doctor="DR02")
    final = (await _move(world, BUDI, moved.booking_code, other_doctor, day)).booking
    assert final.poli.code == "R02" and final.rescheduled_from == moved.booking_code


async def test_the_hospital_referral_carries_over_to_the_same_poli_only(world: QueueWorld):
    day = today() + timedelta(days=2)
    old = (await world.book(BUDI, HOSPITAL, "INT", day, referral_number=BUDI_INT)).booking
    later = today() + timedelta(days=3)
    internal = await world.schedule_id(HOSPITAL, "INT", later)
    eyes = await world.schedule_id(HOSPITAL, "MAT", later)

    assert (await refused(_move(world, BUDI, old.booking_code, eyes, later))).code == "REFERRAL_REQUIRED"
    assert (await _get(world, BUDI, old.booking_code)).booking.status == queue_pb2.BOOKING_STATUS_BOOKED
    moved = (await _move(world, BUDI, old.booking_code, internal, later)).booking
    assert moved.referral_number == BUDI_INT and moved.date == later.isoformat()


async def test_the_same_idempotency_key_is_one_move_even_when_sent_at_once(world: QueueWorld):
    day = today() + TOMORROW
    old = (await world.book(ANDI, CLINIC, "001", day)).booking
    target = await _session(world, CLINIC, "R04", day, 5)
    key = str(uuid.uuid4())

    async def one():
        try:
            return await _move(world, ANDI, old.booking_code, target, day, key=key)
        except grpc.aio.AioRpcError as error:
            return decode_rpc_error(error).code

    outcomes = await asyncio.gather(*(one() for _ in range(6)))
    replies = [o for o in outcomes if isinstance(o, queue_pb2.RescheduleBookingResponse)]
    assert len(replies) == 6, outcomes
    assert len({r.booking.booking_code for r in replies}) == 1
    assert sorted(r.replayed for r in replies) == [False] + [True] * 5
    assert await _taken(world, target, day) == 1
    # a replay later is the same answer; the same key for another move is refused
    assert (await _move(world, ANDI, old.booking_code, target, day, key=key)).booking == replies[0].booking
    other = await _session(world, CLINIC, "R05", day, 5)
    assert (await refused(_move(world, ANDI, old.booking_code, other, day, key=key))).code == "VALIDATION_ERROR"


async def test_another_participants_booking_cannot_be_moved(world: QueueWorld):
    day = today() + TOMORROW
    old = (await world.book(SRI, CLINIC, "001", day)).booking
    target = await _session(world, CLINIC, "R06", day, 5)
    stranger = "0005678900007"  # Rudi, not of Sri's family
    assert (await refused(_move(world, stranger, old.booking_code, target, day))).code == "NOT_FOUND"


async def _cancellations(world: QueueWorld, codes: set[str]) -> list:
    """The BookingCancelled events about ``codes`` that reached Kafka through the outbox relay."""
    found: list = []
    reader = AIOKafkaConsumer(QUEUE_EVENTS, bootstrap_servers=world.kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 20
        while loop.time() < deadline and len(found) < len(codes):
            for records in (await reader.getmany(timeout_ms=300)).values():
                for record in records:
                    event = parse(Event.from_record(record), events.BookingCancelled)
                    if event is not None and event.booking.booking_code in codes:
                        found.append(event)
    finally:
        await reader.stop()
    return found



async def test_a_doctors_absence_cancels_tells_lists_alternatives_and_the_patient_moves_in_one_call(
        world: QueueWorld):
    day = today() + timedelta(days=3)
    old = (await world.book(BUDI, HOSPITAL, "INT", day, referral_number=BUDI_INT)).booking
    sessions = await world.queue.ListSchedules(queue_pb2.ListSchedulesRequest(
        facility_code=HOSPITAL, date=day.isoformat(), poli_code="INT"))
    doctor = sessions.schedules[0].doctor
    await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="INT", doctor_code=doctor.code, doctor_name=doctor.name, date=day.isoformat(), start="08:00",
        end="12:00", quota_jkn=30, quota_non_jkn=10, closed=True), metadata=signed(HOSPITAL))

    absent = await _get(world, BUDI, old.booking_code)
    assert absent.booking.status == queue_pb2.BOOKING_STATUS_CANCELLED
    assert absent.booking.cancel_reason == "DOCTOR_ABSENT"
    options = list(absent.alternatives)
    dates = [a.date for a in options]
    assert options and dates == sorted(dates) and day.isoformat() not in dates
    assert dates[0] == (today() + TOMORROW).isoformat()  # a hospital books from tomorrow; the earliest first
    assert all(a.remaining_jkn > 0 and a.doctor.code for a in options)

    told = await _cancellations(world, {old.booking_code})
    assert len(told) == 1 and told[0].by == events.CANCELLED_BY["facility"]
    assert told[0].reason_code == "DOCTOR_ABSENT" and options[0].date in told[0].alternative
    assert options[0].date in told[0].reason  # the message names the earliest alternative

    moved = (await _move(world, BUDI, old.booking_code, options[0].schedule_id,
                         date.fromisoformat(options[0].date))).booking
    assert moved.referral_number == BUDI_INT and moved.rescheduled_from == old.booking_code
    after = await _get(world, BUDI, old.booking_code)
    assert after.booking.rescheduled_to == moved.booking_code and after.booking.cancel_reason == "DOCTOR_ABSENT"
    assert not after.alternatives
    assert (await refused(_move(world, BUDI, old.booking_code, options[0].schedule_id,
                                date.fromisoformat(options[0].date)))).code == "BOOKING_NOT_CANCELLABLE"


async def test_a_booking_cancelled_by_the_participant_cannot_be_moved(world: QueueWorld):
    day = today() + TOMORROW
    old = (await world.book(SRI, CLINIC, "002", day)).booking
    await world.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=world.caller(SRI),
                                                                  booking_code=old.booking_code))
    target = await _session(world, CLINIC, "R07", day, 5)
    assert (await refused(_move(world, SRI, old.booking_code, target, day))).code == "BOOKING_NOT_CANCELLABLE"

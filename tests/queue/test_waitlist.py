"""The waitlist of a full session (CONTRACT.md §7 "Waitlist"), against real queue, membership and
Postgres: only a full session has one; a freed seat — a cancellation, a reschedule away, task 99
before the date, a lapsed or given-up offer — reaches the first waiting entry in the transaction
that frees it, never whoever asks next, even with cancellations and new bookings racing; an offer
is held, accepted in time or passed on by the periodic job; a closed session ends its entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
import pytest_asyncio

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue import waitlist
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests import factories
from tests.queue.conftest import SITI, TOMORROW, active_participants_of, epoch_ms, refused, signed, today

CLINIC = "0114U001"
WAITING, OFFERED, BOOKED = (queue_pb2.WAITLIST_STATUS_WAITING, queue_pb2.WAITLIST_STATUS_OFFERED,
                            queue_pb2.WAITLIST_STATUS_BOOKED)
EXPIRED, CANCELLED = queue_pb2.WAITLIST_STATUS_EXPIRED, queue_pb2.WAITLIST_STATUS_CANCELLED


@dataclass
class Line:
    """Queue (with real membership) whose waitlist offers are held ``hold_s``."""

    queue: queue_pb2_grpc.QueueServiceStub
    partner: partner_pb2_grpc.PartnerQueueServiceStub
    queue_dsn: str
    membership_dsn: str
    hold_s: float

    async def session(self, poli: str, quota: int, day: date, *, closed: bool = False) -> str:
        reply = await self.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
            poli_code=poli, poli_name=f"Poli Uji {poli}", doctor_code=f"DW{poli}", doctor_name="dr. Uji Antre",
            date=day.isoformat(), start="00:00", end="23:59", quota_jkn=quota, quota_non_jkn=0, closed=closed),
            metadata=signed(CLINIC))
        return reply.schedule_id

    def book(self, noka: str, schedule_id: str, day: date) -> grpc.aio.UnaryUnaryCall:
        return self.queue.CreateBooking(queue_pb2.CreateBookingRequest(
            caller=factories.caller(noka), schedule_id=schedule_id, date=day.isoformat()))

    def join(self, noka: str, schedule_id: str, day: date, **fields) -> grpc.aio.UnaryUnaryCall:
        return self.queue.JoinWaitlist(queue_pb2.JoinWaitlistRequest(
            caller=factories.caller(noka), schedule_id=schedule_id, date=day.isoformat(), **fields))

    def cancel(self, noka: str, code: str) -> grpc.aio.UnaryUnaryCall:
        return self.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=factories.caller(noka),
                                                                       booking_code=code))

    def accept(self, noka: str, waitlist_id: str) -> grpc.aio.UnaryUnaryCall:
        return self.queue.AcceptWaitlistOffer(queue_pb2.AcceptWaitlistOfferRequest(
            caller=factories.caller(noka), waitlist_id=waitlist_id))

    async def entry(self, noka: str, waitlist_id: str) -> queue_pb2.WaitlistEntry:
        reply = await self.queue.ListWaitlist(queue_pb2.ListWaitlistRequest(caller=factories.caller(noka)))
        return next(e for e in reply.entries if e.waitlist_id == waitlist_id)

    async def seats(self, schedule_id: str, day: date) -> tuple[list[str], int]:
        """The NOKAs holding BOOKED seats (in seat order) and the session's seat counter."""
        conn = await asyncpg.connect(self.queue_dsn)
        try:
            nokas = [r["noka"] for r in await conn.fetch(
                "SELECT noka FROM bookings WHERE schedule_id = $1 AND date = $2 AND status = 'BOOKED' ORDER BY seq",
                uuid.UUID(schedule_id), day)]
            taken = await conn.fetchval("SELECT taken_jkn FROM sessions WHERE schedule_id = $1 AND date = $2",
                                        uuid.UUID(schedule_id), day)
        finally:
            await conn.close()
        return nokas, taken


async def _line(service, **overrides) -> AsyncIterator[Line]:
    async with AsyncExitStack() as stack:
        enter = stack.enter_async_context
        membership = await enter(service(MembershipSettings, build_membership, seed_demo_data=True,
                                         demo_today=today()))
        queue = await enter(service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today(),
                                    membership_addr=membership.address, **overrides))
        channel = await enter(grpc.aio.insecure_channel(queue.address))
        yield Line(queue_pb2_grpc.QueueServiceStub(channel), partner_pb2_grpc.PartnerQueueServiceStub(channel),
                   queue.settings.database_url, membership.settings.database_url, queue.settings.waitlist_hold_s)


@pytest_asyncio.fixture
async def line(service) -> AsyncIterator[Line]:
    async for running in _line(service):
        yield running


@pytest_asyncio.fixture
async def quick_line(service) -> AsyncIterator[Line]:
    """Offers held one second, the periodic job every 0.2 s."""
    async for running in _line(service, waitlist_hold_s=1.0, jobs_every_s=0.2):
        yield running


async def _outcome(call):
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return decode_rpc_error(error).code


async def test_only_a_full_session_has_a_waitlist_and_each_patient_is_on_it_once(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 4)
    schedule_id = await line.session("W01", 1, day)
    assert (await refused(line.join(nokas[0], schedule_id, day))).code == "SEATS_AVAILABLE"
    await line.book(nokas[0], schedule_id, day)

    first = (await line.join(nokas[1], schedule_id, day)).entry
    second = (await line.join(nokas[2], schedule_id, day, auto_accept=False)).entry
    assert (first.status, first.position, first.auto_accept) == (WAITING, 1, True)
    assert (second.status, second.position, second.auto_accept) == (WAITING, 2, False)
    assert first.schedule_id == schedule_id and first.date == day.isoformat() and first.noka == nokas[1]
    assert (await refused(line.join(nokas[1], schedule_id, day))).code == "DUPLICATE_BOOKING"
    assert (await refused(line.join(nokas[0], schedule_id, day))).code == "DUPLICATE_BOOKING"  # holds a seat
    assert (await refused(line.join(SITI, schedule_id, day))).code == "PARTICIPANT_INACTIVE"
    assert (await refused(line.join(nokas[3], str(uuid.uuid4()), day))).code == "NOT_FOUND"

    status = await line.partner.GetQueueStatus(partner_pb2.GetQueueStatusRequest(
        schedule_id=schedule_id, date=day.isoformat()), metadata=signed(CLINIC))
    assert status.waitlist == 2 and status.total == 1
    # leaving moves those behind up
    await line.queue.LeaveWaitlist(queue_pb2.LeaveWaitlistRequest(caller=factories.caller(nokas[1]),
                                                                  waitlist_id=first.waitlist_id))
    assert (await line.entry(nokas[1], first.waitlist_id)).status == CANCELLED
    assert (await line.entry(nokas[2], second.waitlist_id)).position == 1
    # another participant's entry is not found
    stranger = factories.caller(nokas[3])
    assert (await refused(line.queue.LeaveWaitlist(queue_pb2.LeaveWaitlistRequest(
        caller=stranger, waitlist_id=second.waitlist_id)))).code == "NOT_FOUND"


async def test_freed_seats_go_to_the_first_waiters_while_cancellations_race_new_bookings(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 72)
    holders, waiters, rushers = nokas[:2], nokas[2:22], nokas[22:]
    schedule_id = await line.session("W02", 2, day)
    held = [(await line.book(noka, schedule_id, day)).booking for noka in holders]
    entries = [(await line.join(noka, schedule_id, day)).entry for noka in waiters]
    assert [e.position for e in entries] == list(range(1, 21))

    calls = [line.cancel(noka, b.booking_code) for noka, b in zip(holders, held, strict=True)]
    calls += [line.book(noka, schedule_id, day) for noka in rushers]
    outcomes = await asyncio.gather(*(_outcome(c) for c in calls))
    assert all(isinstance(o, queue_pb2.CancelBookingResponse) for o in outcomes[:2]), outcomes[:2]
    assert set(outcomes[2:]) == {"QUOTA_FULL"}  # nobody who merely asked got a freed seat

    booked, taken = await line.seats(schedule_id, day)
    assert sorted(booked) == sorted(waiters[:2]) and taken == 2
    for noka, entry in zip(waiters[:2], entries[:2], strict=True):
        mine = await line.entry(noka, entry.waitlist_id)
        assert mine.status == BOOKED and mine.booking_code and mine.position == 0
    rest = [await line.entry(noka, e.waitlist_id) for noka, e in zip(waiters[2:], entries[2:], strict=True)]
    assert [(e.status, e.position) for e in rest] == [(WAITING, i) for i in range(1, 19)]


async def test_an_offer_is_held_for_its_entry_and_accepted_in_time(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 3)
    schedule_id = await line.session("W03", 1, day)
    held = (await line.book(nokas[0], schedule_id, day)).booking
    entry = (await line.join(nokas[1], schedule_id, day, auto_accept=False)).entry
    assert (await refused(line.accept(nokas[1], entry.waitlist_id))).code == "NOT_OFFERED"

    asked = datetime.now(UTC)
    await line.cancel(nokas[0], held.booking_code)
    offered = await line.entry(nokas[1], entry.waitlist_id)
    assert offered.status == OFFERED
    expires = offered.offer_expires_at.ToDatetime(tzinfo=UTC)
    assert asked + timedelta(seconds=line.hold_s - 5) <= expires <= asked + timedelta(seconds=line.hold_s + 30)
    # the held seat is nobody else's
    assert (await refused(line.book(nokas[2], schedule_id, day))).code == "QUOTA_FULL"
    assert (await line.join(nokas[2], schedule_id, day)).entry.position == 1  # still full: a line behind the offer

    booking = (await line.accept(nokas[1], entry.waitlist_id)).booking
    assert booking.status == queue_pb2.BOOKING_STATUS_BOOKED and booking.noka == nokas[1]
    assert booking.waitlist_id == entry.waitlist_id
    assert (await line.accept(nokas[1], entry.waitlist_id)).booking.booking_code == booking.booking_code
    assert await line.seats(schedule_id, day) == ([nokas[1]], 1)


async def test_an_offer_not_accepted_in_time_passes_to_the_next_waiter(quick_line: Line):
    line, day = quick_line, today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 3)
    schedule_id = await line.session("W04", 1, day)
    held = (await line.book(nokas[0], schedule_id, day)).booking
    first = (await line.join(nokas[1], schedule_id, day, auto_accept=False)).entry
    second = (await line.join(nokas[2], schedule_id, day, auto_accept=False)).entry
    await line.cancel(nokas[0], held.booking_code)
    assert (await line.entry(nokas[1], first.waitlist_id)).status == OFFERED

    for _ in range(100):  # the job expires the offer within hold + a round or two
        if (await line.entry(nokas[2], second.waitlist_id)).status == OFFERED:
            break
        await asyncio.sleep(0.1)
    assert (await line.entry(nokas[2], second.waitlist_id)).status == OFFERED
    lapsed = await line.entry(nokas[1], first.waitlist_id)
    assert lapsed.status == EXPIRED and lapsed.end_reason == "OFFER_EXPIRED"
    assert (await refused(line.accept(nokas[1], first.waitlist_id))).code == "OFFER_EXPIRED"
    assert await line.seats(schedule_id, day) == ([], 1)  # the seat is held for the second waiter


async def test_a_reschedule_away_and_a_task_99_before_the_date_free_seats_for_the_waitlist(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 4)
    schedule_id = await line.session("W05", 2, day)
    elsewhere = await line.session("W06", 5, day)
    held = [(await line.book(noka, schedule_id, day)).booking for noka in nokas[:2]]
    entries = [(await line.join(noka, schedule_id, day)).entry for noka in nokas[2:]]

    await line.queue.RescheduleBooking(queue_pb2.RescheduleBookingRequest(
        caller=factories.caller(nokas[0]), booking_code=held[0].booking_code, schedule_id=elsewhere,
        date=day.isoformat()))
    assert (await line.entry(nokas[2], entries[0].waitlist_id)).status == BOOKED
    await line.partner.UpdateTask(partner_pb2.UpdateTaskRequest(
        booking_code=held[1].booking_code, task_id=99, at=epoch_ms(datetime.now(UTC))), metadata=signed(CLINIC))
    assert (await line.entry(nokas[3], entries[1].waitlist_id)).status == BOOKED
    assert sorted((await line.seats(schedule_id, day))[0]) == sorted(nokas[2:])


async def test_a_closed_session_ends_its_waitlist(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 3)
    schedule_id = await line.session("W07", 1, day)
    held = (await line.book(nokas[0], schedule_id, day)).booking
    entries = [(await line.join(noka, schedule_id, day)).entry for noka in nokas[1:]]
    await line.session("W07", 1, day, closed=True)

    for noka, entry in zip(nokas[1:], entries, strict=True):
        ended = await line.entry(noka, entry.waitlist_id)
        assert ended.status == CANCELLED and ended.end_reason == "SESSION_CLOSED"
    cancelled = await line.queue.GetBooking(queue_pb2.GetBookingRequest(caller=factories.caller(nokas[0]),
                                                                        booking_code=held.booking_code))
    assert cancelled.booking.cancel_reason == "DOCTOR_ABSENT"
    assert await line.seats(schedule_id, day) == ([], 0)  # nobody was given the freed seat


async def test_seats_a_raised_quota_adds_go_to_the_waitlist_first(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 4)
    schedule_id = await line.session("W08", 1, day)
    await line.book(nokas[0], schedule_id, day)
    entries = [(await line.join(noka, schedule_id, day)).entry for noka in nokas[1:3]]
    await line.session("W08", 2, day)  # the clinic adds a seat
    assert (await line.entry(nokas[1], entries[0].waitlist_id)).status == BOOKED
    assert (await line.entry(nokas[2], entries[1].waitlist_id)).position == 1
    assert (await refused(line.book(nokas[3], schedule_id, day))).code == "QUOTA_FULL"


async def test_entries_of_a_date_that_has_passed_expire_and_release_a_held_seat(line: Line):
    day = today() + TOMORROW
    nokas = await active_participants_of(line.membership_dsn, CLINIC, 3)
    schedule_id = await line.session("W09", 1, day)
    held = (await line.book(nokas[0], schedule_id, day)).booking
    offered = (await line.join(nokas[1], schedule_id, day, auto_accept=False)).entry
    waiting = (await line.join(nokas[2], schedule_id, day)).entry
    await line.cancel(nokas[0], held.booking_code)
    assert (await line.entry(nokas[1], offered.waitlist_id)).status == OFFERED

    pool = await asyncpg.create_pool(line.queue_dsn, min_size=1, max_size=2)
    try:
        assert await waitlist.end_past_entries(pool, today=day) == 0  # the visit day itself is not past
        assert await waitlist.end_past_entries(pool, today=day + timedelta(days=1)) == 2
    finally:
        await pool.close()
    for noka, entry in ((nokas[1], offered), (nokas[2], waiting)):
        ended = await line.entry(noka, entry.waitlist_id)
        assert ended.status == EXPIRED and ended.end_reason == "DATE_PASSED"
    assert await line.seats(schedule_id, day) == ([], 0)

"""Group commit under races (`services.queue.seats`): many attempts for one session seated in a
few transactions never pass the quota, number the seats 1..quota once each, keep one booking per
patient, poli and date and one per Idempotency-Key; a replica that has just found a session full
sees at once a seat freed or added through another replica."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date

import asyncpg
import grpc
import pytest_asyncio

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests import factories
from tests.queue.conftest import TOMORROW, active_participants_of, refused, signed, today

CLINIC = "0114U001"


@dataclass
class Replicas:
    """Two queue replicas on one database."""

    a: queue_pb2_grpc.QueueServiceStub
    b: queue_pb2_grpc.QueueServiceStub
    partner: partner_pb2_grpc.PartnerQueueServiceStub
    queue_dsn: str
    membership_dsn: str

    async def session(self, poli: str, quota: int, day: date) -> str:
        reply = await self.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
            poli_code=poli, poli_name=f"Poli Uji {poli}", doctor_code=f"DG{poli}", doctor_name="dr. Uji Serentak",
            date=day.isoformat(), start="00:00", end="23:59", quota_jkn=quota, quota_non_jkn=0),
            metadata=signed(CLINIC))
        return reply.schedule_id

    async def seats(self, schedule_id: str, day: date) -> tuple[list[int], int]:
        conn = await asyncpg.connect(self.queue_dsn)
        try:
            seqs = [r["seq"] for r in await conn.fetch(
                "SELECT seq FROM bookings WHERE schedule_id = $1 AND date = $2 AND status = 'BOOKED' ORDER BY seq",
                uuid.UUID(schedule_id), day)]
            taken = await conn.fetchval("SELECT taken_jkn FROM sessions WHERE schedule_id = $1 AND date = $2",
                                        uuid.UUID(schedule_id), day)
        finally:
            await conn.close()
        return seqs, taken


@pytest_asyncio.fixture
async def replicas(service) -> AsyncIterator[Replicas]:
    async with AsyncExitStack() as stack:
        enter = stack.enter_async_context
        membership = await enter(service(MembershipSettings, build_membership, seed_demo_data=True,
                                         demo_today=today()))
        a = await enter(service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today(),
                                membership_addr=membership.address))
        b = await enter(service(QueueSettings, build_queue, membership_addr=membership.address,
                                database_url=a.settings.database_url))
        channel_a = await enter(grpc.aio.insecure_channel(a.address))
        channel_b = await enter(grpc.aio.insecure_channel(b.address))
        yield Replicas(queue_pb2_grpc.QueueServiceStub(channel_a), queue_pb2_grpc.QueueServiceStub(channel_b),
                       partner_pb2_grpc.PartnerQueueServiceStub(channel_a), a.settings.database_url,
                       membership.settings.database_url)


def _attempt(stub: queue_pb2_grpc.QueueServiceStub, noka: str, schedule_id: str, day: date, *,
             account: str | None = None, key: str | None = None, **fields) -> grpc.aio.UnaryUnaryCall:
    request = queue_pb2.CreateBookingRequest(caller=factories.caller(noka, account), schedule_id=schedule_id,
                                             date=day.isoformat(), **fields)
    if key:
        request.idempotency_key = key
    return stub.CreateBooking(request)


async def _outcomes(calls) -> list[queue_pb2.CreateBookingResponse | str]:
    """Each call's reply, or its error code."""
    async def one(call):
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            return decode_rpc_error(error).code

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def test_a_rush_over_two_replicas_sells_exactly_the_quota_numbered_once_each(replicas: Replicas):
    day = today() + TOMORROW
    nokas = await active_participants_of(replicas.membership_dsn, CLINIC, 240)
    schedule_id = await replicas.session("G01", 25, day)
    outcomes = await _outcomes([_attempt(replicas.a if i % 2 else replicas.b, noka, schedule_id, day)
                                for i, noka in enumerate(nokas)])
    sold = [o.booking for o in outcomes if isinstance(o, queue_pb2.CreateBookingResponse)]
    assert sorted(b.queue_seq for b in sold) == list(range(1, 26))
    assert {o for o in outcomes if isinstance(o, str)} == {"QUOTA_FULL"}
    assert len({b.booking_code for b in sold}) == 25 and len({b.noka for b in sold}) == 25
    # each answer says what it would have said alone: the seats left after its own
    assert sorted(b.remaining_jkn for b in sold) == list(range(0, 25))
    assert await replicas.seats(schedule_id, day) == (list(range(1, 26)), 25)


async def test_idempotency_key_twins_in_one_batch_make_one_booking_and_replays(replicas: Replicas):
    day = today() + TOMORROW
    nokas = await active_participants_of(replicas.membership_dsn, CLINIC, 5)
    schedule_id = await replicas.session("G02", 10, day)
    keys = {noka: str(uuid.uuid4()) for noka in nokas}
    calls = [_attempt(replicas.a, noka, schedule_id, day, key=keys[noka]) for _ in range(4) for noka in nokas]
    outcomes = await _outcomes(calls)
    assert all(isinstance(o, queue_pb2.CreateBookingResponse) for o in outcomes), outcomes
    for noka in nokas:
        mine = [o for o in outcomes if isinstance(o, queue_pb2.CreateBookingResponse) and o.booking.noka == noka]
        assert len(mine) == 4 and len({o.booking.booking_code for o in mine}) == 1
        assert sorted(o.replayed for o in mine) == [False, True, True, True]
        assert all(o.booking == mine[0].booking for o in mine)  # the first 201 body, byte for byte
    assert await replicas.seats(schedule_id, day) == (list(range(1, 6)), 5)

    # the same key for another request, in one batch with its twin: one booking, one 422
    noka = nokas[0]
    other = await replicas.session("G03", 10, day)
    key = str(uuid.uuid4())
    twins = await _outcomes([_attempt(replicas.a, noka, other, day, key=key),
                             _attempt(replicas.a, noka, other, day, key=key, medical_record_number="RM-1")])
    # whichever of the two reached the batch first is booked; the other is refused, in either order
    booked = [o for o in twins if isinstance(o, queue_pb2.CreateBookingResponse)]
    assert len(booked) == 1 and not booked[0].replayed, twins
    assert [o for o in twins if isinstance(o, str)] == ["VALIDATION_ERROR"]
    assert await replicas.seats(other, day) == ([1], 1)


async def test_one_patient_many_times_at_once_gets_one_seat(replicas: Replicas):
    day = today() + TOMORROW
    noka = (await active_participants_of(replicas.membership_dsn, CLINIC, 5))[0]
    schedule_id = await replicas.session("G04", 10, day)
    # the patient's own attempts and the same patient booked by another account of the family
    outcomes = await _outcomes([_attempt(replicas.a if i % 2 else replicas.b, noka, schedule_id, day)
                                for i in range(6)])
    assert sum(isinstance(o, queue_pb2.CreateBookingResponse) for o in outcomes) == 1
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["DUPLICATE_BOOKING"] * 5
    assert await replicas.seats(schedule_id, day) == ([1], 1)


async def test_a_seat_freed_or_added_on_one_replica_is_bookable_at_once_on_the_other(replicas: Replicas):
    day = today() + TOMORROW
    nokas = await active_participants_of(replicas.membership_dsn, CLINIC, 5)
    schedule_id = await replicas.session("G05", 2, day)
    first = (await _attempt(replicas.a, nokas[0], schedule_id, day)).booking
    await _attempt(replicas.a, nokas[1], schedule_id, day)
    for noka in nokas[2:4]:  # replica b has just found the session full
        assert (await refused(_attempt(replicas.b, noka, schedule_id, day))).code == "QUOTA_FULL"

    await replicas.a.CancelBooking(queue_pb2.CancelBookingRequest(caller=factories.caller(nokas[0]),
                                                                  booking_code=first.booking_code))
    again = (await _attempt(replicas.b, nokas[2], schedule_id, day)).booking
    assert again.queue_seq == 3
    assert (await refused(_attempt(replicas.b, nokas[3], schedule_id, day))).code == "QUOTA_FULL"

    await replicas.session("G05", 3, day)  # the clinic adds a seat (through replica a)
    added = (await _attempt(replicas.b, nokas[3], schedule_id, day)).booking
    assert added.queue_seq == 4
    assert await replicas.seats(schedule_id, day) == ([2, 3, 4], 3)

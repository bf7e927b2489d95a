"""The hospital desk's booking (partner `CreateDeskBooking`, `desk`) and the facility's reads of its
own bookings (`registrations`), against real queue and membership servers."""

from __future__ import annotations

import asyncio

import grpc

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.errors import decode_rpc_error
from services.queue import desk
from tests.queue.conftest import AGUS, BUDI, TOMORROW, active_participants_of, refused, signed, today

CLINIC = "0114U001"


def desk_request(noka: str, code: str, *, poli: str = "002", doctor: str = "D0114U02",
                 **fields) -> partner_pb2.CreateDeskBookingRequest:
    return partner_pb2.CreateDeskBookingRequest(booking_code=code, noka=noka, poli_code=poli, doctor_code=doctor,
                                                date=(today() + TOMORROW).isoformat(), visit_type=1, **fields)


async def test_racing_desk_bookings_never_pass_the_quota(world):
    """drg. Bayu has 2 JKN seats: of 6 patients booked at once at the desk, exactly 2 get one."""
    patients = await active_participants_of(world.membership_dsn, CLINIC, 6)

    async def attempt(i: int, noka: str) -> int | str:
        try:
            made = await world.partner.CreateDeskBooking(desk_request(noka, f"DESK-RACE-{i}"),
                                                         metadata=signed(CLINIC))
        except grpc.aio.AioRpcError as error:
            return decode_rpc_error(error).code
        return made.registration.booking.queue_seq

    results = await asyncio.gather(*(attempt(i, noka) for i, noka in enumerate(patients)))
    assert sorted(results, key=str) == [1, 2] + ["QUOTA_FULL"] * 4


async def test_a_desk_booking_is_the_participants_and_says_it_came_from_the_desk(world):
    made = await world.partner.CreateDeskBooking(desk_request(BUDI, "desk-budi-1", poli="001", doctor="D0114U01"),
                                                 metadata=signed(CLINIC))
    reg = made.registration
    assert reg.booking.booking_code == "DESK-BUDI-1"
    assert reg.source == partner_pb2.BOOKING_SOURCE_DESK and (reg.start, reg.end) == ("08:00", "14:00")
    mine = await world.queue.ListBookings(queue_pb2.ListBookingsRequest(caller=world.caller(BUDI)))
    assert [b.booking_code for b in mine.bookings] == ["DESK-BUDI-1"]
    app = await world.book(BUDI, CLINIC, "002", today() + TOMORROW)
    listed = await world.partner.ListRegistrations(partner_pb2.ListRegistrationsRequest(
        date=(today() + TOMORROW).isoformat()), metadata=signed(CLINIC))
    assert {(r.booking.booking_code, r.source) for r in listed.registrations} == {
        ("DESK-BUDI-1", partner_pb2.BOOKING_SOURCE_DESK), (app.booking.booking_code, partner_pb2.BOOKING_SOURCE_APP)}
    assert desk.desk_of(CLINIC) != desk.desk_of("0114R001")


async def test_a_code_is_one_booking_and_another_facilitys_code_is_not_available(world):
    await world.partner.CreateDeskBooking(desk_request(BUDI, "DESK-ONCE", poli="001", doctor="D0114U01"),
                                          metadata=signed(CLINIC))
    again = await refused(world.partner.CreateDeskBooking(desk_request(BUDI, "DESK-ONCE"), metadata=signed(CLINIC)))
    assert (again.code, again.fields) == ("DUPLICATE_BOOKING", {"booking_code_taken": True})
    other = await refused(world.partner.CreateDeskBooking(desk_request(AGUS, "desk-once"),
                                                          metadata=signed("0114U002")))
    assert other.code == "VALIDATION_ERROR"
    foreign = await refused(world.partner.GetRegistration(partner_pb2.GetRegistrationRequest(
        booking_code="DESK-ONCE"), metadata=signed("0114U002")))
    assert foreign.code == "PERMISSION_DENIED"


async def test_the_desk_keeps_the_fktp_rule(world):
    """Agus is registered at another FKTP: the clinic's desk cannot book him either."""
    refusal = await refused(world.partner.CreateDeskBooking(desk_request(AGUS, "DESK-AGUS"), metadata=signed(CLINIC)))
    assert refusal.code == "FACILITY_NOT_REGISTERED"
    bad = await refused(world.partner.CreateDeskBooking(desk_request(BUDI, "no spaces"), metadata=signed(CLINIC)))
    assert bad.code == "VALIDATION_ERROR"


async def test_a_referral_is_read_only_by_the_hospital_it_was_issued_to(world):
    found = await world.partner.GetReferral(partner_pb2.GetReferralRequest(referral_number="0114U0011126Y000001"),
                                            metadata=signed("0114R001"))
    assert (found.noka, found.poli.code, found.from_facility.code) == (BUDI, "INT", CLINIC)
    other = await refused(world.partner.GetReferral(partner_pb2.GetReferralRequest(
        referral_number="0114U0011126Y000001"), metadata=signed(CLINIC)))
    assert other.code == "NOT_FOUND"

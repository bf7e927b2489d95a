"""The partner hospital API: signed per facility, scoped to the facility's own bookings, task
times in order. "Tomorrow" is the same queue service with its clock one day ahead."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.queue import rules
from tests.queue.conftest import ANDI, BUDI, TOMORROW, QueueWorld, refused, signed, today

REFERRAL_INT = "0114U0011126Y000001"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def _budi_at_int_tomorrow(world: QueueWorld) -> queue_pb2.Booking:
    return (await world.book(BUDI, "0114R001", "INT", today() + TOMORROW, referral_number=REFERRAL_INT)).booking


async def test_the_hospital_checks_budi_in_and_records_tasks_3_4_5_in_order(world: QueueWorld):
    booking = await _budi_at_int_tomorrow(world)
    hospital = signed("0114R001")
    visit_day = rules.at_jakarta(today() + TOMORROW, time(7, 30))

    too_early = await refused(world.partner.CheckIn(partner_pb2.CheckInRequest(
        booking_code=booking.booking_code, at=ms(rules.jakarta_now())), metadata=hospital))
    assert too_early.code == "CHECK_IN_NOT_ALLOWED"  # today is not the visit date

    checked = await world.tomorrow_partner.CheckIn(partner_pb2.CheckInRequest(
        booking_code=booking.booking_code, at=ms(visit_day)), metadata=hospital)
    assert checked.booking.status == queue_pb2.BOOKING_STATUS_CHECKED_IN

    async def task(task_id: int, minutes: int):
        return await world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
            booking_code=booking.booking_code, task_id=task_id, at=ms(visit_day + timedelta(minutes=minutes))),
            metadata=hospital)

    assert (await task(3, 5)).booking.status == queue_pb2.BOOKING_STATUS_CHECKED_IN
    assert (await refused(task(5, 20))).code == "TASK_OUT_OF_ORDER"  # 5 before 4
    assert (await task(4, 30)).booking.status == queue_pb2.BOOKING_STATUS_SERVING
    assert (await refused(task(4, 31))).code == "TASK_ALREADY_RECORDED"
    assert (await refused(task(5, 29))).code == "TASK_OUT_OF_ORDER"  # not later than task 4
    done = (await task(5, 45)).booking
    assert done.status == queue_pb2.BOOKING_STATUS_DONE and [t.task_id for t in done.tasks] == [3, 4, 5]

    status = await world.tomorrow_partner.GetQueueStatus(partner_pb2.GetQueueStatusRequest(
        schedule_id=booking.schedule_id, date=booking.date), metadata=hospital)
    assert (status.total, status.remaining, status.now_serving) == (1, 0, "INT-1")


async def test_a_hospital_cannot_touch_another_facilitys_booking(world: QueueWorld):
    clinic_booking = (await world.book(BUDI, "0114U001", "001", today() + TOMORROW)).booking
    hospital = signed("0114R001")
    for call in (
        world.partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
            booking_code=clinic_booking.booking_code, reason="x"), metadata=hospital),
        world.tomorrow_partner.CheckIn(partner_pb2.CheckInRequest(
            booking_code=clinic_booking.booking_code, at=ms(rules.jakarta_now(86_400))), metadata=hospital),
        world.partner.GetQueueStatus(partner_pb2.GetQueueStatusRequest(
            schedule_id=clinic_booking.schedule_id, date=clinic_booking.date), metadata=hospital),
    ):
        assert (await refused(call)).code == "PERMISSION_DENIED"
    listed = await world.partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
        date=clinic_booking.date), metadata=hospital)
    assert clinic_booking.booking_code not in {b.booking_code for b in listed.bookings}


@pytest.mark.parametrize("metadata", [
    signed("0114R001", secret="wrong-secret"),
    (("x-cons-id", "0114R001"), ("x-timestamp", "1"), ("x-signature", "AAAA")),
    (),
])
async def test_a_bad_signature_is_unauthenticated(world: QueueWorld, metadata):
    error = await refused(world.partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
        date=today().isoformat()), metadata=metadata))
    assert error.code == "UNAUTHENTICATED"


async def test_the_hospital_cancels_and_the_seat_is_free_again(world: QueueWorld):
    booking = await _budi_at_int_tomorrow(world)
    cancelled = await world.partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
        booking_code=booking.booking_code, reason="Dokter cuti"), metadata=signed("0114R001"))
    assert cancelled.booking.status == queue_pb2.BOOKING_STATUS_CANCELLED
    assert cancelled.booking.remaining_jkn == booking.remaining_jkn + 1
    again = await refused(world.partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
        booking_code=booking.booking_code, reason="again"), metadata=signed("0114R001")))
    assert again.code == "BOOKING_NOT_CANCELLABLE"


async def test_a_closed_date_cancels_its_bookings_and_takes_no_more(world: QueueWorld):
    day = today() + TOMORROW
    booking = await _budi_at_int_tomorrow(world)
    await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="INT", doctor_code="D0114R01", doctor_name="dr. Andi Wijaya, Sp.PD", date=day.isoformat(),
        start="08:00", end="12:00", quota_jkn=30, closed=True), metadata=signed("0114R001"))
    mine = await world.queue.GetBooking(queue_pb2.GetBookingRequest(caller=world.caller(BUDI),
                                                                     booking_code=booking.booking_code))
    assert mine.booking.status == queue_pb2.BOOKING_STATUS_CANCELLED
    refused_again = await refused(world.book(BUDI, "0114R001", "INT", day, referral_number=REFERRAL_INT,
                                             schedule_id=booking.schedule_id))
    assert refused_again.code == "BOOKING_WINDOW"


async def test_a_quota_cannot_drop_below_the_seats_taken(world: QueueWorld):
    day = today() + TOMORROW
    await world.book(BUDI, "0114U001", "002", day)
    await world.book(ANDI, "0114U001", "002", day, caller=world.caller(BUDI))
    error = await refused(world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="002", doctor_code="D0114U02", doctor_name="drg. Bayu", date=day.isoformat(), start="08:00",
        end="12:00", quota_jkn=1), metadata=signed("0114U001")))
    assert error.code == "VALIDATION_ERROR"


async def test_the_clinic_issues_a_referral_that_budi_can_book_with(world: QueueWorld):
    reply = await world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
        noka=BUDI, to_facility_code="0114R001", poli_code="ANA", visit_type=queue_pb2.VISIT_TYPE_FKTP_REFERRAL),
        metadata=signed("0114U001"))
    assert len(reply.referral_number) == 19 and reply.referral_number.startswith("0114U001")
    assert reply.valid_until == (today() + timedelta(days=89)).isoformat()
    booking = await world.book(BUDI, "0114R001", "ANA", today() + TOMORROW, referral_number=reply.referral_number)
    assert booking.booking.referral_number == reply.referral_number
    hospital_refers = await refused(world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
        noka=BUDI, to_facility_code="0114R001", poli_code="ANA"), metadata=signed("0114R001")))
    assert hospital_refers.code == "PERMISSION_DENIED"  # only an FKTP refers
    other_clinic = await refused(world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
        noka=BUDI, to_facility_code="0114R001", poli_code="ANA"), metadata=signed("0114U002")))
    assert other_clinic.code == "PERMISSION_DENIED"  # Budi is registered at 0114U001

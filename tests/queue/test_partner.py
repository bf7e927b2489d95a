"""The partner hospital API: signed per facility, scoped to the facility's own bookings, task
times in order. "Tomorrow" is the same queue service with its clock one day ahead."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import grpc
import pytest

from jkn.common.v1 import common_pb2
from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.clock import jakarta_now
from services.kit.errors import decode_rpc_error
from services.queue import rules
from tests.queue.conftest import (
    ANDI,
    BUDI,
    TOMORROW,
    QueueWorld,
    active_participants_of,
    epoch_ms,
    refused,
    signed,
    today,
    visit_moment,
)

REFERRAL_INT = "0114U0011126Y000001"


async def _budi_at_int_tomorrow(world: QueueWorld) -> queue_pb2.Booking:
    return (await world.book(BUDI, "0114R001", "INT", today() + TOMORROW, referral_number=REFERRAL_INT)).booking


async def test_the_hospital_checks_budi_in_and_records_tasks_3_4_5_in_order(world: QueueWorld):
    booking = await _budi_at_int_tomorrow(world)
    hospital = signed("0114R001")
    visit_day = visit_moment()

    too_early = await refused(world.partner.CheckIn(partner_pb2.CheckInRequest(
        booking_code=booking.booking_code, at=epoch_ms(jakarta_now())), metadata=hospital))
    assert too_early.code == "CHECK_IN_NOT_ALLOWED"  # today is not the visit date

    checked = await world.tomorrow_partner.CheckIn(partner_pb2.CheckInRequest(
        booking_code=booking.booking_code, at=epoch_ms(visit_day)), metadata=hospital)
    assert checked.booking.status == queue_pb2.BOOKING_STATUS_CHECKED_IN

    async def task(task_id: int, minutes: int):
        return await world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
            booking_code=booking.booking_code, task_id=task_id, at=epoch_ms(visit_day + timedelta(seconds=minutes))),
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
            booking_code=clinic_booking.booking_code, at=epoch_ms(jakarta_now(86_400))), metadata=hospital),
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


async def test_a_check_in_or_task_time_in_the_future_is_refused(world: QueueWorld):
    booking = await _budi_at_int_tomorrow(world)
    hospital, tomorrow_morning = signed("0114R001"), rules.at_jakarta(today() + TOMORROW, time(7, 30))
    early = await refused(world.partner.CheckIn(partner_pb2.CheckInRequest(  # sent today, dated tomorrow
        booking_code=booking.booking_code, at=epoch_ms(tomorrow_morning)), metadata=hospital))
    assert early.code == "VALIDATION_ERROR"  # a time that has not happened yet
    visit = visit_moment()
    await world.tomorrow_partner.CheckIn(partner_pb2.CheckInRequest(booking_code=booking.booking_code,
                                                                    at=epoch_ms(visit)), metadata=hospital)
    far = await refused(world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
        booking_code=booking.booking_code, task_id=3, at=epoch_ms(visit + timedelta(days=365))), metadata=hospital))
    assert far.code == "VALIDATION_ERROR"
    other = await refused(world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
        booking_code=booking.booking_code, task_id=3, at=epoch_ms(visit)), metadata=signed("0114U001")))
    assert other.code == "PERMISSION_DENIED"


async def test_task_99_before_the_visit_cancels_and_on_the_day_marks_a_no_show_both_freeing_the_seat(
        world: QueueWorld):
    day = today() + TOMORROW
    clinic = signed("0114U001")
    ahead_of_time = (await world.book(BUDI, "0114U001", "002", day)).booking
    cancelled = (await world.partner.UpdateTask(partner_pb2.UpdateTaskRequest(
        booking_code=ahead_of_time.booking_code, task_id=99, at=epoch_ms(jakarta_now())),
        metadata=clinic)).booking
    assert cancelled.status == queue_pb2.BOOKING_STATUS_CANCELLED and cancelled.remaining_jkn == 2

    on_the_day = (await world.book(ANDI, "0114U001", "002", day, caller=world.caller(BUDI))).booking
    absent = (await world.tomorrow_partner.UpdateTask(partner_pb2.UpdateTaskRequest(
        booking_code=on_the_day.booking_code, task_id=99, at=epoch_ms(visit_moment())), metadata=clinic)).booking
    assert absent.status == queue_pb2.BOOKING_STATUS_NO_SHOW and absent.remaining_jkn == 2
    assert [t.task_id for t in absent.tasks] == [99]


async def test_new_weekly_hours_from_a_later_date_keep_the_days_before_and_an_end_date_closes_the_days_after(
        world: QueueWorld):
    clinic = signed("0114U001")
    weekly = {"poli_code": "001", "doctor_code": "D0114U01", "doctor_name": "dr. Sari", "weekdays": list(range(1, 8))}
    day1, day5, day10 = (today() + timedelta(days=n) for n in (1, 5, 10))
    viewed = await world.schedule_id("0114U001", "001", day5)  # a session made before the change
    booked = (await world.book(BUDI, "0114U001", "001", day1)).booking
    await world.partner.UpsertWeeklySchedule(partner_pb2.UpsertWeeklyScheduleRequest(
        **weekly, start="13:00", end="17:00", quota_jkn=25, valid_from=day10.isoformat()), metadata=clinic)

    async def session(day):
        reply = await world.queue.ListSchedules(queue_pb2.ListSchedulesRequest(
            facility_code="0114U001", date=day.isoformat(), poli_code="001"))
        return [(s.start, s.end, s.quota_jkn) for s in reply.schedules if s.doctor.code == "D0114U01"]

    assert await session(today() + timedelta(days=4)) == [("08:00", "14:00", 40)]  # never made before
    assert await session(day1) == await session(day5) == [("08:00", "14:00", 40)] and viewed  # made before
    assert await session(day10) == [("13:00", "17:00", 25)]

    await world.partner.UpsertWeeklySchedule(partner_pb2.UpsertWeeklyScheduleRequest(  # the doctor leaves
        **weekly, start="08:00", end="14:00", quota_jkn=40, valid_until=today().isoformat()), metadata=clinic)
    assert await session(day1) == [] and await session(day5) == []
    mine = await world.queue.GetBooking(queue_pb2.GetBookingRequest(caller=world.caller(BUDI),
                                                                     booking_code=booked.booking_code))
    assert mine.booking.status == queue_pb2.BOOKING_STATUS_CANCELLED  # and Budi is told by the facility


async def test_unknown_facilities_malformed_input_and_odd_page_sizes_are_clear_errors(world: QueueWorld):
    unknown = await refused(world.partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
        date=today().isoformat()), metadata=signed("9999X999")))
    assert unknown.code == "PERMISSION_DENIED"
    listed = await world.partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
        date=today().isoformat(), page=common_pb2.PageRequest(page_size=-5)), metadata=signed("0114R001"))
    assert list(listed.bookings) == []  # the default page; hospitals have no bookings for today
    for call in (
        world.partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
            booking_code="2026\x00", reason="x"), metadata=signed("0114R001")),
        world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
            noka="abc", to_facility_code="0114R001", poli_code="INT"), metadata=signed("0114U001")),
        world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
            noka=BUDI, to_facility_code="0114R001", poli_code="INT", visit_type=40000), metadata=signed("0114U001")),
        world.queue.CancelBooking(queue_pb2.CancelBookingRequest(
            caller=world.caller(BUDI), booking_code="X", reason="sakit\x00")),
    ):
        assert (await refused(call)).code == "VALIDATION_ERROR"


async def test_closing_a_date_while_patients_cancel_never_deadlocks(world: QueueWorld):
    """Closing locks the session and then its bookings; cancelling does the same (one lock order)."""
    day = today() + TOMORROW
    nokas = await active_participants_of(world.membership_dsn, "0114U001", 12)
    schedule_id = await world.schedule_id("0114U001", "001", day)
    booked = [(await world.book(n, "0114U001", "001", day, schedule_id=schedule_id)).booking for n in nokas]
    close = world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="001", doctor_code="D0114U01", doctor_name="dr. Sari", date=day.isoformat(), start="08:00",
        end="14:00", quota_jkn=40, closed=True), metadata=signed("0114U001"))
    cancels = [world.queue.CancelBooking(queue_pb2.CancelBookingRequest(caller=world.caller(n),
                                                                         booking_code=b.booking_code))
               for n, b in zip(nokas, booked, strict=True)]
    results = await asyncio.gather(close, *cancels, return_exceptions=True)
    errors = [decode_rpc_error(r).code for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert set(errors) <= {"BOOKING_NOT_CANCELLABLE"}, errors  # never INTERNAL or DEPENDENCY_UNAVAILABLE
    statuses = {(await world.queue.GetBooking(queue_pb2.GetBookingRequest(
        caller=world.caller(n), booking_code=b.booking_code))).booking.status
        for n, b in zip(nokas, booked, strict=True)}
    assert statuses == {queue_pb2.BOOKING_STATUS_CANCELLED}

"""The queue's rules as plain functions (CONTRACT.md §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, ValidationFailed
from services.queue import rules

NOW = rules.at_jakarta(date(2026, 11, 21), time(9, 0))
TODAY = NOW.date()


def code_of(call) -> str:
    with pytest.raises((DomainError, ValidationFailed)) as caught:
        call()
    return caught.value.code


@pytest.mark.parametrize(("facility_type", "days", "allowed"), [
    ("FKTP", 0, True), ("FKTP", 1, True), ("FKTP", 2, False), ("FKTP", -1, False),
    ("FKRTL", 0, False), ("FKRTL", 1, True), ("FKRTL", 30, True), ("FKRTL", 31, False),
])
def test_booking_window(facility_type, days, allowed):
    def check():
        rules.check_booking_window(facility_type=facility_type, visit_date=TODAY + timedelta(days=days), now=NOW,
                                   session_end=time(23, 0))
    if allowed:
        check()
    else:
        assert code_of(check) == "BOOKING_WINDOW"


def test_a_session_that_has_ended_today_cannot_be_booked():
    assert code_of(lambda: rules.check_booking_window(facility_type="FKTP", visit_date=TODAY, now=NOW,
                                                      session_end=time(8, 59))) == "BOOKING_WINDOW"


def test_referral_is_bound_to_participant_hospital_and_poli_and_valid_for_90_days():
    issued = TODAY - timedelta(days=10)
    referral = rules.Referral("0114U0011126Y000001", "0001234567801", "0114R001", "INT", issued,
                              rules.referral_valid_until(issued))
    assert referral.valid_until - referral.issued_on == timedelta(days=89)
    ok = {"number": referral.number, "noka": "0001234567801", "facility_code": "0114R001", "poli_code": "INT",
          "visit_date": TODAY + timedelta(days=1), "today": TODAY}
    rules.check_referral(referral, **ok)
    assert code_of(lambda: rules.check_referral(referral, **{**ok, "number": None})) == "REFERRAL_REQUIRED"
    for change in ({"noka": "0001234567802"}, {"facility_code": "0114R002"}, {"poli_code": "MAT"},
                   {"visit_date": referral.valid_until + timedelta(days=1)}):
        assert code_of(lambda change=change: rules.check_referral(referral, **{**ok, **change})) == "REFERRAL_INVALID"
    assert code_of(lambda: rules.check_referral(None, **ok)) == "REFERRAL_INVALID"


def test_referral_numbers_are_19_characters():
    assert rules.referral_number(facility_code="0114U001", issued_on=date(2026, 11, 11), serial=1) == \
        "0114U0011126Y000001"


def test_estimate_is_start_plus_ten_minutes_per_earlier_number():
    assert rules.estimated_service_at(visit_date=TODAY, start=time(8), seq=1) == rules.at_jakarta(TODAY, time(8))
    assert rules.estimated_service_at(visit_date=TODAY, start=time(8), seq=4) == rules.at_jakarta(TODAY, time(8, 30))


def test_live_estimate_follows_the_days_pace():
    start = rules.at_jakarta(TODAY, time(8))
    planned = start + timedelta(minutes=50)
    assert rules.live_estimate(planned=planned, service_starts=[], ahead=4, now=start) == planned
    starts = [start, start + timedelta(minutes=20), start + timedelta(minutes=40)]  # a 20-minute pace
    assert rules.live_estimate(planned=planned, service_starts=starts, ahead=2, now=start + timedelta(minutes=41)) \
        == start + timedelta(minutes=60 + 40)
    late = start + timedelta(hours=2)  # nobody served yet, two hours late: not in the past
    assert rules.live_estimate(planned=planned, service_starts=[], ahead=3, now=late) == late + 3 * rules.SLOT


def test_tasks_come_one_after_another_with_increasing_times():
    checked_in = datetime(2026, 11, 21, 1, 0, tzinfo=JAKARTA)
    at = checked_in + timedelta(minutes=5)

    def task(task_id, recorded, when=at, status="CHECKED_IN"):
        return lambda: rules.check_task(task_id=task_id, recorded=recorded, status=status,
                                        checked_in_at=checked_in, at=when, now=checked_in + timedelta(hours=1))
    task(1, {})()
    task(3, {})()  # no admission step
    assert code_of(task(4, {})) == "TASK_OUT_OF_ORDER"
    assert code_of(task(5, {3: at})) == "TASK_OUT_OF_ORDER"
    assert code_of(task(4, {3: at}, when=at)) == "TASK_OUT_OF_ORDER"  # not later
    assert code_of(task(3, {3: at})) == "TASK_ALREADY_RECORDED"
    assert code_of(task(3, {}, status="BOOKED")) == "TASK_OUT_OF_ORDER"  # not checked in
    task(99, {}, status="BOOKED")()
    assert code_of(task(99, {}, status="DONE")) == "TASK_OUT_OF_ORDER"
    assert code_of(task(8, {})) == "VALIDATION_ERROR"
    assert code_of(task(3, {}, when=checked_in + timedelta(hours=2))) == "VALIDATION_ERROR"  # in the future
    assert [rules.status_after_task("CHECKED_IN", t) for t in (3, 4, 5, 99)] == \
        ["CHECKED_IN", "SERVING", "DONE", "NO_SHOW"]


def test_cancel_until_check_in_and_not_after_the_visit_date():
    rules.check_cancellable(status="BOOKED", visit_date=TODAY, today=TODAY)
    assert code_of(lambda: rules.check_cancellable(status="CHECKED_IN", visit_date=TODAY, today=TODAY)) == \
        "BOOKING_NOT_CANCELLABLE"
    assert code_of(lambda: rules.check_cancellable(status="BOOKED", visit_date=TODAY - timedelta(days=1),
                                                   today=TODAY)) == "BOOKING_NOT_CANCELLABLE"


def test_reminders_go_from_six_in_the_evening_before():
    tomorrow = TODAY + timedelta(days=1)
    assert not rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(17, 59)))
    assert rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(18, 0)))
    assert not rules.reminder_due(visit_date=tomorrow + timedelta(days=1), now=rules.at_jakarta(TODAY, time(20)))


def test_check_in_only_on_the_visit_date_by_our_clock_and_never_in_the_future():
    visit = TODAY + timedelta(days=1)
    morning = rules.at_jakarta(visit, time(7, 30))

    def check_in(at, now):
        return lambda: rules.check_check_in(status="BOOKED", visit_date=visit, at=at, now=now)
    check_in(morning, morning + timedelta(minutes=1))()
    assert code_of(check_in(morning, NOW)) == "VALIDATION_ERROR"  # a visit-day time sent today: the future
    assert code_of(check_in(NOW, NOW)) == "CHECK_IN_NOT_ALLOWED"  # today is not the visit date
    late_evening = rules.at_jakarta(visit, time(23, 59))
    assert code_of(check_in(late_evening - timedelta(days=1), late_evening)) == "CHECK_IN_NOT_ALLOWED"
    # 00:05 on the visit day in Jakarta is still the previous day in UTC: the Jakarta date decides.
    just_after_midnight = rules.at_jakarta(visit, time(0, 5))
    check_in(just_after_midnight, just_after_midnight)()


def test_the_window_follows_the_jakarta_calendar_even_when_the_clock_is_in_utc():
    half_past_midnight = rules.at_jakarta(TODAY, time(0, 30)).astimezone(UTC)  # still yesterday in UTC
    assert half_past_midnight.date() == TODAY - timedelta(days=1)
    rules.check_booking_window(facility_type="FKTP", visit_date=TODAY + timedelta(days=1), now=half_past_midnight,
                               session_end=time(12))
    assert code_of(lambda: rules.check_booking_window(
        facility_type="FKTP", visit_date=TODAY - timedelta(days=1), now=half_past_midnight,
        session_end=time(23, 59))) == "BOOKING_WINDOW"

"""The queue's rules as plain functions (CONTRACT.md §3)."""

from __future__ import annotations

import re
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


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def invalid_fields(call) -> list[dict]:
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert caught.value.code == "VALIDATION_ERROR"
    return caught.value.fields["errors"]


# --- parsing what clients and facilities send ------------------------------------------------------


def test_a_date_is_parsed_from_yyyy_mm_dd():
    assert rules.parse_date("2026-11-21") == date(2026, 11, 21)


@pytest.mark.parametrize("value", ["21-11-2026", "2026-02-30", "2026-13-01", "", "tomorrow"])
def test_anything_else_is_not_a_date(value):
    assert invalid_fields(lambda: rules.parse_date(value)) == \
        [{"field": "date", "code": "invalid", "message": "a date YYYY-MM-DD"}]


def test_a_bad_date_names_the_field_it_came_in():
    assert invalid_fields(lambda: rules.parse_date("x", "visit_date"))[0]["field"] == "visit_date"


@pytest.mark.parametrize(("value", "parsed"), [("08:30", time(8, 30)), ("00:00", time(0)), ("23:59", time(23, 59))])
def test_a_session_time_is_hh_mm(value, parsed):
    assert rules.parse_hhmm(value, "start") == parsed


@pytest.mark.parametrize("value", ["24:00", "08:60", "0830", "08:30:00", "", "8.30"])
def test_anything_else_is_not_a_session_time(value):
    assert invalid_fields(lambda: rules.parse_hhmm(value, "end")) == \
        [{"field": "end", "code": "invalid", "message": "a time HH:MM"}]


def test_a_jakarta_wall_clock_time_is_seven_hours_ahead_of_utc():
    assert rules.at_jakarta(date(2026, 11, 21), time(8)) == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


# --- booking rule 1: the booking window -------------------------------------------------------------


def test_the_window_is_explained_in_the_refusal():
    fktp = refusal(lambda: rules.check_booking_window(facility_type="FKTP", visit_date=TODAY + timedelta(days=2),
                                                      now=NOW, session_end=time(23)))
    assert fktp.detail == "bookings at this facility are for today or tomorrow"
    hospital = refusal(lambda: rules.check_booking_window(facility_type="FKRTL", visit_date=TODAY, now=NOW,
                                                          session_end=time(23)))
    assert hospital.detail == "bookings at this facility are for from tomorrow up to 30 days ahead"


def test_a_session_ending_now_has_ended_and_one_ending_a_minute_later_has_not():
    def book(end):
        return lambda: rules.check_booking_window(facility_type="FKTP", visit_date=TODAY, now=NOW, session_end=end)
    error = refusal(book(time(9, 0)))
    assert (error.code, error.detail) == ("BOOKING_WINDOW", "this session has already ended")
    book(time(9, 1))()


def test_a_hospital_session_tomorrow_is_bookable_even_if_its_hours_have_passed_today():
    rules.check_booking_window(facility_type="FKRTL", visit_date=TODAY + timedelta(days=1), now=NOW,
                               session_end=time(8))


@pytest.mark.parametrize(("days", "bookable"), [(-1, False), (0, True), (1, True), (30, True), (31, False)])
def test_anything_is_bookable_at_all_from_today_up_to_30_days_ahead(days, bookable):
    assert rules.bookable_at_all(TODAY + timedelta(days=days), now=NOW) is bookable


def test_bookable_at_all_follows_the_jakarta_calendar():
    half_past_midnight = rules.at_jakarta(TODAY, time(0, 30)).astimezone(UTC)  # still yesterday in UTC
    assert rules.bookable_at_all(TODAY + timedelta(days=30), now=half_past_midnight) is True
    assert rules.bookable_at_all(TODAY - timedelta(days=1), now=half_past_midnight) is False


@pytest.mark.parametrize(("days", "published"), [(-1, False), (0, True), (30, True), (31, True), (32, False)])
def test_sessions_are_published_for_today_up_to_31_days_ahead(days, published):
    assert rules.published_dates(TODAY + timedelta(days=days), now=NOW) is published


def test_published_dates_follow_the_jakarta_calendar():
    half_past_midnight = rules.at_jakarta(TODAY, time(0, 30)).astimezone(UTC)
    assert rules.published_dates(TODAY + timedelta(days=31), now=half_past_midnight) is True
    assert rules.published_dates(TODAY - timedelta(days=1), now=half_past_midnight) is False


# --- request sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("record", "key"), [(None, None), ("R" * 32, None), (None, "k"), (None, "k" * 128),
                                             ("", "k" * 64)])
def test_a_medical_record_number_of_up_to_32_and_a_key_of_1_to_128_characters_are_fine(record, key):
    rules.check_request_sizes(medical_record_number=record, idempotency_key=key)


def test_a_medical_record_number_of_33_characters_is_too_long():
    assert invalid_fields(lambda: rules.check_request_sizes(medical_record_number="R" * 33, idempotency_key=None)) \
        == [{"field": "medical_record_number", "code": "invalid", "message": "at most 32 characters"}]


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_an_idempotency_key_is_1_to_128_characters(key):
    assert invalid_fields(lambda: rules.check_request_sizes(medical_record_number=None, idempotency_key=key)) \
        == [{"field": "Idempotency-Key", "code": "invalid", "message": "1–128 characters"}]


# --- booking rules 2 and 4: own FKTP, active membership -------------------------------------------------


def test_an_fktp_books_only_its_own_participants():
    rules.check_own_fktp(facility_code="0114U001", participant_fktp="0114U001")
    error = refusal(lambda: rules.check_own_fktp(facility_code="0114U002", participant_fktp="0114U001"))
    assert (error.code, error.detail) == ("FACILITY_NOT_REGISTERED", "participants book only at their own FKTP")


@pytest.mark.parametrize("status", ["TIDAK_AKTIF", "aktif", ""])
def test_only_an_active_participant_may_book(status):
    rules.check_active("AKTIF")
    error = refusal(lambda: rules.check_active(status))
    assert (error.code, error.detail) == ("PARTICIPANT_INACTIVE", "the participant's membership is not active")


# --- referrals ------------------------------------------------------------------------------------------


def test_a_referral_is_valid_for_90_days_counting_the_day_of_issue():
    assert rules.referral_valid_until(date(2026, 11, 21)) == date(2027, 2, 18)
    assert rules.referral_valid_until(date(2026, 1, 1)) == date(2026, 3, 31)


ISSUED = TODAY - timedelta(days=10)
REFERRAL = rules.Referral("0114U0011126Y000001", "0001234567801", "0114R001", "INT", ISSUED,
                          rules.referral_valid_until(ISSUED))
USE = {"number": REFERRAL.number, "noka": "0001234567801", "facility_code": "0114R001", "poli_code": "INT",
       "visit_date": TODAY + timedelta(days=1), "today": TODAY}


def referral_error(referral=REFERRAL, **change) -> DomainError:
    return refusal(lambda: rules.check_referral(referral, **{**USE, **change}))


@pytest.mark.parametrize("number", [None, ""])
def test_a_hospital_booking_without_a_referral_number_needs_one(number):
    error = referral_error(number=number)
    assert (error.code, error.detail) == ("REFERRAL_REQUIRED", "a hospital booking needs a referral from the FKTP")
    assert referral_error(None, number=number).code == "REFERRAL_REQUIRED"


@pytest.mark.parametrize("number", ["0114U0011126Y00000", "0114U0011126Y0000011"])
def test_a_referral_number_that_is_not_19_characters_is_no_such_referral(number):
    error = referral_error(number=number)
    assert (error.code, error.detail) == ("REFERRAL_INVALID", "no such referral")


def test_an_unknown_referral_is_no_such_referral():
    assert referral_error(None).detail == "no such referral"


@pytest.mark.parametrize("change", [{"noka": "0001234567802"}, {"facility_code": "0114R002"}, {"poli_code": "MAT"}])
def test_a_referral_is_only_for_its_participant_hospital_and_poli(change):
    error = referral_error(**change)
    assert (error.code, error.detail) == \
        ("REFERRAL_INVALID", "the referral is for another participant, hospital or poli")


def test_a_referral_is_usable_from_its_day_of_issue_to_its_90th_day():
    last = REFERRAL.valid_until
    for today, visit in ((ISSUED, ISSUED + timedelta(days=1)), (last, last), (ISSUED, last)):
        rules.check_referral(REFERRAL, **{**USE, "today": today, "visit_date": visit})


@pytest.mark.parametrize("change", [
    {"today": ISSUED - timedelta(days=1)},                              # before its issue
    {"today": REFERRAL.valid_until + timedelta(days=1),                 # the 91st day
     "visit_date": REFERRAL.valid_until + timedelta(days=2)},
    {"visit_date": REFERRAL.valid_until + timedelta(days=1)},           # a visit after the 90th day
])
def test_a_referral_outside_its_90_days_is_invalid_and_says_until_when(change):
    error = referral_error(**change)
    until = REFERRAL.valid_until.isoformat()
    assert (error.code, error.detail, error.fields) == \
        ("REFERRAL_INVALID", f"the referral was valid until {until}", {"valid_until": until})


def test_referral_numbers_carry_the_fktp_the_month_and_year_of_issue_and_a_serial():
    assert rules.referral_number(facility_code="0114U001", issued_on=date(2027, 3, 1), serial=123456) == \
        "0114U0010327Y123456"


@pytest.mark.parametrize(("facility_code", "serial"), [("0114U01", 1), ("0114U0012", 1), ("0114U001", 1_000_000)])
def test_a_referral_number_that_would_not_be_19_characters_is_an_error(facility_code, serial):
    with pytest.raises(ValueError, match="^referral number must be 19 characters$"):
        rules.referral_number(facility_code=facility_code, issued_on=date(2026, 11, 11), serial=serial)


# --- booking codes, queue numbers, estimates -----------------------------------------------------------


def test_a_booking_code_is_the_date_the_poli_and_six_unambiguous_random_characters():
    codes = {rules.booking_code(date(2026, 11, 22), "INT") for _ in range(300)}
    assert len(codes) == 300
    assert all(re.fullmatch(r"20261122INT[A-HJ-NP-Z2-9]{6}", code) for code in codes)
    assert set("".join(code[-6:] for code in codes)) == set(rules._CODE_ALPHABET)


def test_the_booking_code_alphabet_has_no_o_zero_i_or_one():
    assert len(rules._CODE_ALPHABET) == 32 and not set("O0I1") & set(rules._CODE_ALPHABET)


def test_the_queue_number_is_the_poli_and_the_sequence():
    assert rules.queue_number("INT", 1) == "INT-1"
    assert rules.queue_number("002", 12) == "002-12"


def test_the_second_patient_is_expected_ten_minutes_after_the_start():
    assert rules.estimated_service_at(visit_date=TODAY, start=time(8), seq=2) == rules.at_jakarta(TODAY, time(8, 10))
    assert rules.estimated_service_at(visit_date=TODAY, start=time(13, 30), seq=7) == \
        rules.at_jakarta(TODAY, time(14, 30))


# --- the live estimate ----------------------------------------------------------------------------------


START = rules.at_jakarta(TODAY, time(8))
PLANNED = START + timedelta(minutes=50)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize(("now", "ahead", "expected"), [
    (PLANNED - minutes(1), 3, PLANNED),                  # before the planned time: as planned
    (PLANNED, 3, PLANNED),                               # at it: still as planned
    (PLANNED + minutes(5), 0, PLANNED + minutes(5)),     # late and next: now
    (PLANNED + minutes(5), 2, PLANNED + minutes(25)),    # late: now plus 10 minutes per patient ahead
])
def test_before_anyone_is_served_the_estimate_is_the_plan_or_later(now, ahead, expected):
    assert rules.live_estimate(planned=PLANNED, service_starts=[], ahead=ahead, now=now) == expected


def test_with_one_service_start_the_pace_is_ten_minutes():
    def estimate(ahead):
        return rules.live_estimate(planned=PLANNED, service_starts=[START], ahead=ahead, now=START + minutes(1))
    assert estimate(0) == START + minutes(10)
    assert estimate(2) == START + minutes(30)


def test_the_pace_is_the_median_gap_between_service_starts():
    starts = [START, START + minutes(5), START + minutes(15), START + minutes(45)]  # gaps 5, 10, 30: median 10
    assert rules.live_estimate(planned=PLANNED, service_starts=starts, ahead=1, now=START + minutes(46)) == \
        START + minutes(45 + 10 + 10)


def test_service_starts_may_come_in_any_order():
    starts = [START + minutes(40), START, START + minutes(20)]
    assert rules.live_estimate(planned=PLANNED, service_starts=starts, ahead=2, now=START + minutes(41)) == \
        START + minutes(60 + 40)


def test_starts_at_the_same_moment_do_not_shorten_the_pace():
    starts = [START, START, START + minutes(20)]  # one gap of 20 minutes, not a median of 0 and 20
    assert rules.live_estimate(planned=PLANNED, service_starts=starts, ahead=0, now=START + minutes(21)) == \
        START + minutes(40)
    same = [START, START]  # no gap at all: ten minutes
    assert rules.live_estimate(planned=PLANNED, service_starts=same, ahead=0, now=START + minutes(1)) == \
        START + minutes(10)


def test_a_patient_overdue_by_the_pace_is_expected_now_plus_the_patients_ahead():
    starts = [START, START + minutes(20)]
    late = START + minutes(60)
    assert rules.live_estimate(planned=PLANNED, service_starts=starts, ahead=0, now=late) == late
    assert rules.live_estimate(planned=PLANNED, service_starts=starts, ahead=1, now=late) == late + minutes(20)


# --- cancellation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "days"), [("BOOKED", 0), ("BOOKED", 1), ("BOOKED", 30)])
def test_a_booked_visit_today_or_later_can_be_cancelled(status, days):
    rules.check_cancellable(status=status, visit_date=TODAY + timedelta(days=days), today=TODAY)


@pytest.mark.parametrize(("status", "days"), [
    ("BOOKED", -1), ("CHECKED_IN", 1), ("SERVING", 0), ("DONE", 0), ("CANCELLED", 1), ("NO_SHOW", 0),
])
def test_anything_else_cannot_be_cancelled(status, days):
    error = refusal(lambda: rules.check_cancellable(status=status, visit_date=TODAY + timedelta(days=days),
                                                    today=TODAY))
    assert (error.code, error.detail) == \
        ("BOOKING_NOT_CANCELLABLE", "only a booking not yet checked in, on or before its date, can be cancelled")


# --- reported times and check-in ----------------------------------------------------------------------


def test_a_reported_time_may_be_up_to_five_minutes_ahead_of_our_clock():
    rules.check_reported_time(NOW + timedelta(minutes=5), now=NOW)
    rules.check_reported_time(NOW - timedelta(days=1), now=NOW)
    assert invalid_fields(lambda: rules.check_reported_time(NOW + timedelta(minutes=5, seconds=1), now=NOW)) == \
        [{"field": "at", "code": "invalid", "message": "a time that has already happened"}]


def test_a_reported_time_in_the_future_names_its_field():
    assert invalid_fields(lambda: rules.check_reported_time(NOW + timedelta(hours=1), now=NOW,
                                                            field="served_at"))[0]["field"] == "served_at"


@pytest.mark.parametrize("status", ["CHECKED_IN", "SERVING", "DONE", "CANCELLED", "NO_SHOW"])
def test_only_a_booked_booking_can_be_checked_in(status):
    error = refusal(lambda: rules.check_check_in(status=status, visit_date=TODAY, at=NOW, now=NOW))
    assert (error.code, error.detail) == ("CHECK_IN_NOT_ALLOWED", f"a {status} booking cannot be checked in")


def test_check_in_after_the_visit_date_is_refused_even_with_a_visit_day_time():
    visit = TODAY - timedelta(days=1)
    error = refusal(lambda: rules.check_check_in(status="BOOKED", visit_date=visit,
                                                 at=rules.at_jakarta(visit, time(10)), now=NOW))
    assert (error.code, error.detail) == ("CHECK_IN_NOT_ALLOWED", "check-in is only possible on the visit date")


def test_check_in_on_the_visit_date_with_a_time_of_another_day_is_refused():
    error = refusal(lambda: rules.check_check_in(status="BOOKED", visit_date=TODAY, at=NOW - timedelta(days=1),
                                                 now=NOW))
    assert error.detail == "check-in is only possible on the visit date"


def test_a_future_check_in_time_is_refused_before_the_status_is_looked_at():
    assert code_of(lambda: rules.check_check_in(status="DONE", visit_date=TODAY, at=NOW + timedelta(hours=1),
                                                now=NOW)) == "VALIDATION_ERROR"


# --- tasks ------------------------------------------------------------------------------------------------


CHECKED_IN = rules.at_jakarta(TODAY, time(8))
LATER = CHECKED_IN + timedelta(hours=3)


def task(task_id, recorded=None, *, at=None, status="CHECKED_IN", checked_in_at=CHECKED_IN):
    rules.check_task(task_id=task_id, recorded=recorded or {}, status=status, checked_in_at=checked_in_at,
                     at=at or CHECKED_IN + timedelta(minutes=5), now=LATER)


def after(n: int) -> dict[int, datetime]:
    """Tasks 1..n recorded, a minute apart after check-in."""
    return {t: CHECKED_IN + timedelta(minutes=t) for t in range(1, n + 1)}


@pytest.mark.parametrize("task_id", [0, 8, 98, 100, -1])
def test_task_ids_are_1_to_7_or_99(task_id):
    assert invalid_fields(lambda: task(task_id)) == [{"field": "task_id", "code": "invalid", "message": "1–7 or 99"}]


def test_tasks_1_to_7_follow_one_another():
    for n in range(1, 8):
        task(n, after(n - 1), at=CHECKED_IN + timedelta(minutes=n))


def test_a_patient_without_admission_goes_from_3_to_7():
    recorded = {}
    for n in range(3, 8):
        task(n, recorded, at=CHECKED_IN + timedelta(minutes=n))
        recorded[n] = CHECKED_IN + timedelta(minutes=n)


def test_an_out_of_order_task_says_which_was_expected():
    first = refusal(lambda: task(2))
    assert (first.code, first.detail, first.fields) == \
        ("TASK_OUT_OF_ORDER", "task 2 is out of order (expected 1 or 3)", {"expected": [1, 3]})
    skipped = refusal(lambda: task(4, after(2), at=LATER))
    assert (skipped.detail, skipped.fields) == ("task 4 is out of order (expected 3)", {"expected": [3]})
    backwards = refusal(lambda: task(1, {3: CHECKED_IN + timedelta(minutes=1)}, at=LATER))
    assert backwards.fields == {"expected": [4]}


def test_a_repeated_task_is_already_recorded():
    error = refusal(lambda: task(2, after(2), at=LATER))
    assert (error.code, error.detail) == ("TASK_ALREADY_RECORDED", "task 2 is already recorded")
    assert refusal(lambda: task(99, {99: CHECKED_IN}, status="CHECKED_IN")).code == "TASK_ALREADY_RECORDED"


def test_a_task_must_be_later_than_the_previous_step():
    recorded = {1: CHECKED_IN + timedelta(minutes=10), 2: CHECKED_IN + timedelta(minutes=20)}
    error = refusal(lambda: task(3, recorded, at=CHECKED_IN + timedelta(minutes=15)))  # after 1 but before 2
    assert (error.code, error.detail) == ("TASK_OUT_OF_ORDER", "each task must be later than the previous step")
    assert refusal(lambda: task(3, recorded, at=CHECKED_IN + timedelta(minutes=20))).code == "TASK_OUT_OF_ORDER"
    task(3, recorded, at=CHECKED_IN + timedelta(minutes=20, seconds=1))


def test_the_first_task_must_be_later_than_the_check_in():
    assert refusal(lambda: task(1, at=CHECKED_IN)).detail == "each task must be later than the previous step"
    task(1, at=CHECKED_IN + timedelta(seconds=1))


@pytest.mark.parametrize("status", ["BOOKED", "CANCELLED", "NO_SHOW"])
def test_tasks_need_a_checked_in_patient(status):
    error = refusal(lambda: task(1, status=status))
    assert (error.code, error.detail) == ("TASK_OUT_OF_ORDER", "the patient must be checked in first")


def test_a_checked_in_status_without_a_check_in_time_is_not_checked_in():
    assert refusal(lambda: task(1, checked_in_at=None)).detail == "the patient must be checked in first"


def test_the_pharmacy_steps_follow_a_done_poli_visit():
    task(6, after(5), status="DONE", at=LATER)
    task(5, after(4), status="SERVING", at=LATER)


@pytest.mark.parametrize("status", ["BOOKED", "CHECKED_IN"])
def test_a_booking_not_yet_served_can_become_a_no_show(status):
    task(99, status=status, checked_in_at=None)
    task(99, after(3), status=status)


@pytest.mark.parametrize("status", ["SERVING", "DONE", "CANCELLED", "NO_SHOW"])
def test_a_booking_being_served_or_closed_cannot_become_a_no_show(status):
    error = refusal(lambda: task(99, status=status))
    assert (error.code, error.detail) == ("TASK_OUT_OF_ORDER", f"a {status} booking cannot become a no-show")


def test_a_task_reported_in_the_future_is_refused():
    assert invalid_fields(lambda: task(1, at=LATER + timedelta(minutes=6)))[0]["field"] == "at"
    task(1, at=LATER + timedelta(minutes=5))


@pytest.mark.parametrize(("task_id", "status"), [
    (1, "CHECKED_IN"), (2, "CHECKED_IN"), (3, "CHECKED_IN"), (4, "SERVING"), (5, "DONE"), (6, "DONE"), (7, "DONE"),
    (99, "NO_SHOW"),
])
def test_the_status_after_each_task(task_id, status):
    assert rules.status_after_task("CHECKED_IN", task_id) == status


def test_the_early_tasks_keep_whatever_status_the_booking_has():
    assert rules.status_after_task("BOOKED", 1) == "BOOKED"
    assert rules.status_after_task("SERVING", 3) == "SERVING"


# --- schedules -----------------------------------------------------------------------------------------------


def test_a_quota_may_be_cut_down_to_the_seats_taken_but_not_below():
    rules.check_quota_change(quota_jkn=3, taken_jkn=3)
    rules.check_quota_change(quota_jkn=30, taken_jkn=0)
    assert invalid_fields(lambda: rules.check_quota_change(quota_jkn=2, taken_jkn=3)) == \
        [{"field": "quota_jkn", "code": "below_taken", "message": "3 seats are already taken"}]


def test_a_session_ends_after_it_starts():
    rules.check_hours(time(8), time(8, 1), 10, 10)
    for end in (time(8), time(7, 59)):
        assert invalid_fields(lambda end=end: rules.check_hours(time(8), end, 10, 10)) == \
            [{"field": "end", "code": "invalid", "message": "after start"}]


@pytest.mark.parametrize(("quota_jkn", "quota_non_jkn"), [(0, 0), (1000, 1000), (0, 1000), (1000, 0)])
def test_quotas_are_0_to_1000(quota_jkn, quota_non_jkn):
    rules.check_hours(time(8), time(12), quota_jkn, quota_non_jkn)


@pytest.mark.parametrize("quota_jkn", [-1, 1001])
def test_a_jkn_quota_outside_0_to_1000_is_refused(quota_jkn):
    assert invalid_fields(lambda: rules.check_hours(time(8), time(12), quota_jkn, 10)) == \
        [{"field": "quota_jkn", "code": "invalid", "message": "0–1000"}]


@pytest.mark.parametrize("quota_non_jkn", [-1, 1001])
def test_a_non_jkn_quota_outside_0_to_1000_is_refused(quota_non_jkn):
    assert code_of(lambda: rules.check_hours(time(8), time(12), 10, quota_non_jkn)) == "VALIDATION_ERROR"


# --- reminders ------------------------------------------------------------------------------------------------


def test_no_reminder_on_the_visit_day_itself():
    assert not rules.reminder_due(visit_date=TODAY, now=rules.at_jakarta(TODAY, time(19)))


def test_the_reminder_window_lasts_until_midnight():
    tomorrow = TODAY + timedelta(days=1)
    assert rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(23, 59)))
    assert not rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(8)))


def test_reminders_follow_the_jakarta_clock():
    tomorrow = TODAY + timedelta(days=1)
    six_pm_jakarta_in_utc = rules.at_jakarta(TODAY, time(18)).astimezone(UTC)
    assert six_pm_jakarta_in_utc.time() == time(11)
    assert rules.reminder_due(visit_date=tomorrow, now=six_pm_jakarta_in_utc)
    assert not rules.reminder_due(visit_date=tomorrow, now=six_pm_jakarta_in_utc - timedelta(seconds=1))


def test_the_reminder_hour_can_be_chosen():
    tomorrow = TODAY + timedelta(days=1)
    assert not rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(19, 59)), evening=time(20))
    assert rules.reminder_due(visit_date=tomorrow, now=rules.at_jakarta(TODAY, time(20)), evening=time(20))


# --- reschedule (CONTRACT.md §7) ------------------------------------------------------------------------------

ABSENT_SINCE = NOW - timedelta(days=3)  # when the doctor's absence cancelled the booking


def move(**changes) -> None:
    """`check_reschedulable` of a booking cancelled DOCTOR_ABSENT three days ago, not yet moved."""
    booking = {"status": "CANCELLED", "cancel_reason": rules.DOCTOR_ABSENT, "cancelled_at": ABSENT_SINCE,
               "rescheduled_to": None, "visit_date": ABSENT_SINCE.date(), "now": NOW}
    rules.check_reschedulable(**{**booking, **changes})


def booked(days: int, **changes) -> None:
    move(status="BOOKED", cancel_reason=None, cancelled_at=None, visit_date=TODAY + timedelta(days=days), **changes)


@pytest.mark.parametrize("days", [0, 1, 30])
def test_a_booked_booking_can_be_moved_up_to_its_date(days):
    booked(days)


def test_a_booked_booking_of_a_past_date_cannot_be_moved():
    assert code_of(lambda: booked(-1)) == "BOOKING_NOT_CANCELLABLE"


def test_the_date_of_a_booking_to_move_is_the_jakarta_date():
    early_morning = rules.at_jakarta(TODAY, time(3))  # still yesterday in UTC
    assert early_morning.astimezone(UTC).date() == TODAY - timedelta(days=1)
    assert code_of(lambda: booked(-1, now=early_morning.astimezone(UTC))) == "BOOKING_NOT_CANCELLABLE"
    booked(0, now=early_morning.astimezone(UTC))


@pytest.mark.parametrize("status", ["CHECKED_IN", "SERVING", "DONE", "NO_SHOW"])
def test_a_booking_checked_in_or_closed_cannot_be_moved(status):
    for visit_date in (TODAY, TODAY + timedelta(days=1)):
        assert code_of(lambda visit_date=visit_date: move(status=status, visit_date=visit_date)) == \
            "BOOKING_NOT_CANCELLABLE"


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(days=3), timedelta(days=14)])
def test_a_booking_cancelled_for_the_doctors_absence_can_be_moved_for_14_days(ago):
    move(cancelled_at=NOW - ago)


def test_a_booking_cancelled_for_the_doctors_absence_may_be_of_a_future_date():
    move(visit_date=TODAY + timedelta(days=2))


def test_after_14_days_a_booking_cancelled_for_the_doctors_absence_cannot_be_moved():
    assert code_of(lambda: move(cancelled_at=NOW - timedelta(days=14, seconds=1))) == "BOOKING_NOT_CANCELLABLE"
    assert code_of(lambda: move(cancelled_at=NOW - timedelta(days=15))) == "BOOKING_NOT_CANCELLABLE"


@pytest.mark.parametrize("cancel_reason", [None, rules.RESCHEDULED, "BY_PARTICIPANT", "doctor_absent"])
def test_a_booking_cancelled_for_another_reason_cannot_be_moved(cancel_reason):
    for visit_date in (ABSENT_SINCE.date(), TODAY, TODAY + timedelta(days=1)):
        assert code_of(lambda visit_date=visit_date: move(cancel_reason=cancel_reason, visit_date=visit_date)) == \
            "BOOKING_NOT_CANCELLABLE"


def test_a_booking_cancelled_for_the_doctors_absence_is_moved_once():
    assert code_of(lambda: move(rescheduled_to="20261124INTK7QM2P")) == "BOOKING_NOT_CANCELLABLE"


def test_a_cancellation_without_a_time_opens_no_move():
    assert code_of(lambda: move(cancelled_at=None)) == "BOOKING_NOT_CANCELLABLE"


def test_a_refused_move_says_what_can_be_moved():
    with pytest.raises(DomainError) as caught:
        move(cancelled_at=NOW - timedelta(days=20))
    assert str(caught.value) == ("only a booking not yet checked in, or one cancelled for the doctor's absence in "
                                 "the last 14 days, can be moved")


def test_a_referral_given_with_the_move_is_used():
    for same_poli in (True, False):
        assert rules.carried_referral(given="0114U0011126Y000002", old_referral="0114U0011126Y000001",
                                      same_poli=same_poli) == "0114U0011126Y000002"


@pytest.mark.parametrize("given", [None, "", "   "])
def test_without_a_referral_the_old_one_carries_over_to_the_same_hospital_and_poli(given):
    assert rules.carried_referral(given=given, old_referral="0114U0011126Y000001", same_poli=True) == \
        "0114U0011126Y000001"
    assert rules.carried_referral(given=given, old_referral="0114U0011126Y000001", same_poli=False) is None
    assert rules.carried_referral(given=given, old_referral=None, same_poli=True) is None


# --- a doctor's absence -----------------------------------------------------------------------------------------


def test_the_alternatives_are_from_today_up_to_14_days_after_the_cancellation():
    assert rules.alternative_dates(cancelled_on=TODAY - timedelta(days=3), today=TODAY) == (
        TODAY, TODAY + timedelta(days=11))
    assert rules.alternative_dates(cancelled_on=TODAY, today=TODAY) == (TODAY, TODAY + timedelta(days=14))


def test_an_alternative_is_described_by_day_date_time_doctor_and_free_seats():
    assert rules.describe_alternative(date(2026, 12, 3), time(8, 0), "dr. Andi Wijaya, Sp.PD", 5) == \
        "Kamis 2026-12-03 08:00, dr. Andi Wijaya, Sp.PD (sisa 5 kuota)"
    days = [rules.describe_alternative(date(2026, 11, 30) + timedelta(days=n), time(13, 30), "dr. X", 1).split()[0]
            for n in range(7)]
    assert days == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]


def test_the_absence_message_names_the_earliest_alternative():
    earliest = "Kamis 2026-12-03 08:00, dr. Andi Wijaya, Sp.PD (sisa 5 kuota)"
    assert rules.absence_message(earliest) == ("dokter berhalangan praktik. Jadwal terdekat: Kamis 2026-12-03 08:00, "
                                               "dr. Andi Wijaya, Sp.PD (sisa 5 kuota). Pindah jadwal lewat aplikasi")


def test_the_absence_message_says_when_there_is_no_alternative():
    assert rules.absence_message("") == "dokter berhalangan praktik; belum ada jadwal pengganti dalam 14 hari"


# --- the waitlist -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hold_s", [900, 60, 0.5])
def test_an_offered_seat_is_held_for_the_hold_time(hold_s):
    assert rules.offer_expires_at(NOW, hold_s=hold_s) == NOW + timedelta(seconds=hold_s)
    assert rules.offer_expires_at(NOW, hold_s=900) - NOW == timedelta(minutes=15)


@pytest.mark.parametrize(("quota_jkn", "taken_jkn"), [(10, 10), (0, 0), (10, 11)])
def test_only_a_full_session_has_a_waitlist(quota_jkn, taken_jkn):
    rules.check_joinable(quota_jkn=quota_jkn, taken_jkn=taken_jkn)


@pytest.mark.parametrize(("quota_jkn", "taken_jkn"), [(10, 9), (1, 0), (10, 0)])
def test_a_session_with_a_free_seat_has_no_waitlist(quota_jkn, taken_jkn):
    with pytest.raises(DomainError) as caught:
        rules.check_joinable(quota_jkn=quota_jkn, taken_jkn=taken_jkn)
    assert caught.value.code == "SEATS_AVAILABLE"
    assert str(caught.value) == "this session still has free seats: book one"

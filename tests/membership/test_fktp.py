"""Changing one's FKTP (services/membership/fktp.py, CONTRACT.md §3): pure functions, no server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.membership import fktp


def test_fktp_change_once_per_three_calendar_months_effective_next_month():
    assert fktp.next_change_allowed_on(date(2026, 10, 22)) == date(2027, 1, 22)
    assert fktp.next_change_allowed_on(date(2026, 11, 30)) == date(2027, 2, 28)
    assert not fktp.can_change(last_change_or_registration=date(2026, 10, 22), today=date(2026, 11, 21))
    assert fktp.can_change(last_change_or_registration=date(2026, 8, 21), today=date(2026, 11, 21))
    assert fktp.effective_date(date(2026, 11, 21)) == date(2026, 12, 1)
    assert fktp.effective_date(date(2026, 12, 31)) == date(2027, 1, 1)


# --- rule 1: once per 3 calendar months ------------------------------------------------------


@pytest.mark.parametrize(("last", "allowed"), [
    (date(2026, 1, 15), date(2026, 4, 15)),
    (date(2026, 9, 1), date(2026, 12, 1)),     # into December
    (date(2026, 10, 1), date(2027, 1, 1)),     # into the next year
    (date(2026, 12, 15), date(2027, 3, 15)),
    (date(2026, 11, 29), date(2027, 2, 28)),   # no 29 February in 2027
    (date(2027, 11, 30), date(2028, 2, 29)),   # a leap year has one
    (date(2026, 3, 31), date(2026, 6, 30)),    # June has 30 days
    (date(2026, 5, 31), date(2026, 8, 31)),
])
def test_the_next_change_is_allowed_on_the_same_day_three_months_later_or_the_months_last_day(last, allowed):
    assert fktp.next_change_allowed_on(last) == allowed


def test_a_change_is_allowed_from_the_day_three_months_later_and_not_the_day_before():
    last = date(2026, 8, 21)
    assert fktp.can_change(last_change_or_registration=last, today=date(2026, 11, 21)) is True
    assert fktp.can_change(last_change_or_registration=last, today=date(2026, 11, 20)) is False
    assert fktp.can_change(last_change_or_registration=last, today=date(2027, 8, 21)) is True


def test_a_change_30_days_after_the_last_one_is_too_soon():  # Agus (CONTRACT.md §6)
    today = date(2026, 11, 21)
    assert fktp.can_change(last_change_or_registration=today - timedelta(days=30), today=today) is False


def test_registration_counts_like_a_change():
    assert fktp.can_change(last_change_or_registration=date(2026, 11, 21), today=date(2026, 11, 21)) is False


# --- rule 2: effective on the 1st of the next month ----------------------------------------------


@pytest.mark.parametrize(("requested", "effective"), [
    (date(2026, 11, 1), date(2026, 12, 1)),    # on the 1st: still the next month
    (date(2026, 11, 30), date(2026, 12, 1)),
    (date(2026, 1, 31), date(2026, 2, 1)),
    (date(2028, 2, 29), date(2028, 3, 1)),
    (date(2026, 12, 1), date(2027, 1, 1)),
])
def test_a_change_takes_effect_on_the_first_of_the_next_month(requested, effective):
    assert fktp.effective_date(requested) == effective


# --- the month arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 1, 31), 0, date(2026, 1, 31)),
    (date(2026, 1, 31), 12, date(2027, 1, 31)),
    (date(2026, 1, 31), 25, date(2028, 2, 29)),
    (date(2026, 12, 31), 1, date(2027, 1, 31)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2026, 1, 15), -1, date(2025, 12, 15)),
    (date(2026, 7, 4), 11, date(2027, 6, 4)),
])
def test_adding_calendar_months_keeps_the_day_or_clamps_it(day, months, expected):
    assert fktp.add_months(day, months) == expected


# --- rule 3: the new facility --------------------------------------------------------------------------


def test_the_new_facility_must_be_another_fktp():
    assert fktp.is_valid_new_fktp(facility_type="FKTP", facility_code="0114U002", current_code="0114U001") is True


def test_a_hospital_is_not_a_valid_new_fktp():
    assert fktp.is_valid_new_fktp(facility_type="FKRTL", facility_code="0114R001", current_code="0114U001") is False


@pytest.mark.parametrize("facility_type", ["fktp", "", "FKTP "])
def test_the_facility_type_must_be_exactly_fktp(facility_type):
    assert fktp.is_valid_new_fktp(facility_type=facility_type, facility_code="0114U002",
                                  current_code="0114U001") is False


def test_the_current_fktp_is_not_a_change():
    assert fktp.is_valid_new_fktp(facility_type="FKTP", facility_code="0114U001", current_code="0114U001") is False
    assert fktp.is_valid_new_fktp(facility_type="FKRTL", facility_code="0114U001", current_code="0114U001") is False


def test_a_new_participant_without_an_fktp_may_choose_any_fktp():
    assert fktp.is_valid_new_fktp(facility_type="FKTP", facility_code="0114U001", current_code="") is True

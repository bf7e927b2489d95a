"""Premiums of self-paying participants (services/membership/premiums.py): pure functions, no server."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services.kit.clock import JAKARTA
from services.membership import premiums


def test_premiums_by_class_and_segment():
    assert [premiums.monthly_premium_idr(c) for c in (1, 2, 3)] == [150_000, 100_000, 35_000]
    assert premiums.is_billed("PBPU") and premiums.is_billed("BP")
    assert not premiums.is_billed("PBI_APBN") and not premiums.is_billed("PPU")
    assert premiums.due_date("2026-08") == date(2026, 8, 10)
    assert premiums.shift_period("2026-01", -3) == "2025-10"
    assert premiums.in_arrears(status="UNPAID", period="2026-10", today=date(2026, 10, 11))
    assert not premiums.in_arrears(status="UNPAID", period="2026-10", today=date(2026, 10, 10))
    assert premiums.payment_expires_at(datetime(2026, 11, 21, 8, 0)) == datetime(2026, 11, 22, 8, 0)


# --- rule 1: the monthly premium per class ----------------------------------------------------------


@pytest.mark.parametrize("care_class", [0, 4, -1])
def test_there_are_only_three_care_classes(care_class):
    with pytest.raises(KeyError):
        premiums.monthly_premium_idr(care_class)


# --- rule 2: who is billed ----------------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "billed"), [
    ("PBPU", True), ("BP", True), ("PBI_APBN", False), ("PBI_APBD", False), ("PPU", False),
    ("pbpu", False), ("", False),
])
def test_only_self_paying_segments_are_billed(segment, billed):
    assert premiums.is_billed(segment) is billed


# --- rule 3: a month's bill is due on the 10th ------------------------------------------------------


@pytest.mark.parametrize(("period", "due"), [
    ("2026-01", date(2026, 1, 10)), ("2026-02", date(2026, 2, 10)), ("2026-12", date(2026, 12, 10)),
    ("2027-9", date(2027, 9, 10)),
])
def test_a_months_bill_is_due_on_the_10th(period, due):
    assert premiums.due_date(period) == due


@pytest.mark.parametrize(("day", "period"), [
    (date(2026, 8, 1), "2026-08"), (date(2026, 8, 31), "2026-08"), (date(2026, 12, 10), "2026-12"),
    (date(987, 3, 4), "0987-03"),
])
def test_the_period_of_a_day_is_its_year_and_two_digit_month(day, period):
    assert premiums.period_of(day) == period


@pytest.mark.parametrize(("period", "months", "shifted"), [
    ("2026-08", 0, "2026-08"), ("2026-08", 1, "2026-09"), ("2026-12", 1, "2027-01"), ("2026-01", -1, "2025-12"),
    ("2026-11", 14, "2028-01"), ("2026-08", -12, "2025-08"), ("2026-08", -20, "2024-12"),
])
def test_shifting_a_period_by_months(period, months, shifted):
    assert premiums.shift_period(period, months) == shifted


# --- rule 4: arrears ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "today", "arrears"), [
    ("UNPAID", date(2026, 10, 9), False),
    ("UNPAID", date(2026, 10, 10), False),   # due today: not yet late
    ("UNPAID", date(2026, 10, 11), True),    # the day after the due date
    ("UNPAID", date(2027, 1, 1), True),
    ("PAID", date(2026, 10, 11), False),
    ("PAID", date(2027, 1, 1), False),
    ("PENDING", date(2027, 1, 1), False),
])
def test_arrears_are_unpaid_bills_past_their_due_date(status, today, arrears):
    assert premiums.in_arrears(status=status, period="2026-10", today=today) is arrears


# --- rule 5: a payment lives 24 hours ---------------------------------------------------------------


def test_a_payment_expires_24_hours_after_it_was_created():
    created = datetime(2026, 11, 21, 8, 0, 30, tzinfo=JAKARTA)
    assert premiums.payment_expires_at(created) == created + timedelta(hours=24)
    assert premiums.payment_expires_at(created) == datetime(2026, 11, 22, 8, 0, 30, tzinfo=JAKARTA)

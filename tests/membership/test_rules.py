"""Membership's domain rules (identifiers, premiums, FKTP changes)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.membership import fktp, identifiers, premiums


@pytest.mark.parametrize(("nik", "born", "sex"), [
    ("3171011501800001", date(1980, 1, 15), "M"),   # Budi
    ("3171015203820002", date(1982, 3, 12), "F"),   # Sri: day 12 + 40
    ("5171014408950006", date(1995, 8, 4), "F"),    # Dewi: day 04 + 40
    ("3273024506850004", date(1985, 6, 5), "F"),    # Siti
])
def test_demo_niks_are_valid_and_agree_with_birth_date_and_sex(nik, born, sex):
    assert identifiers.nik_problems(nik, birth_date=born, sex=sex) == []


def test_nik_problems_are_named():
    assert identifiers.nik_problems("123") == ["not_16_digits"]
    assert "unknown_region" in identifiers.nik_problems("9971011501800001")
    assert "invalid_birth_date" in identifiers.nik_problems("3171013201800001")
    assert "serial_zero" in identifiers.nik_problems("3171011501800000")
    assert identifiers.nik_problems("3171011501800001", birth_date=date(1980, 1, 16)) == ["birth_date_mismatch"]
    assert identifiers.nik_problems("3171011501800001", sex="F") == ["sex_mismatch"]


def test_identifier_kinds():
    assert identifiers.identifier_kind("3171011501800001") == "nik"
    assert identifiers.identifier_kind("0001234567801") == "noka"
    assert identifiers.identifier_kind("dewi@example.id") is None
    assert identifiers.identifier_kind("１２３４５６７８９０１２３") is None  # full-width digits are not digits here


def test_premiums_by_class_and_segment():
    assert [premiums.monthly_premium_idr(c) for c in (1, 2, 3)] == [150_000, 100_000, 35_000]
    assert premiums.is_billed("PBPU") and premiums.is_billed("BP")
    assert not premiums.is_billed("PBI_APBN") and not premiums.is_billed("PPU")
    assert premiums.due_date("2026-08") == date(2026, 8, 10)
    assert premiums.shift_period("2026-01", -3) == "2025-10"
    assert premiums.in_arrears(status="UNPAID", period="2026-10", today=date(2026, 10, 11))
    assert not premiums.in_arrears(status="UNPAID", period="2026-10", today=date(2026, 10, 10))
    assert premiums.payment_expires_at(datetime(2026, 11, 21, 8, 0)) == datetime(2026, 11, 22, 8, 0)


def test_fktp_change_once_per_three_calendar_months_effective_next_month():
    assert fktp.next_change_allowed_on(date(2026, 10, 22)) == date(2027, 1, 22)
    assert fktp.next_change_allowed_on(date(2026, 11, 30)) == date(2027, 2, 28)
    assert not fktp.can_change(last_change_or_registration=date(2026, 10, 22), today=date(2026, 11, 21))
    assert fktp.can_change(last_change_or_registration=date(2026, 8, 21), today=date(2026, 11, 21))
    assert fktp.effective_date(date(2026, 11, 21)) == date(2026, 12, 1)
    assert fktp.effective_date(date(2026, 12, 31)) == date(2027, 1, 1)

"""Premiums (iuran) of self-paying participants.

- Rule 1: monthly premium per person by care class: class 1 Rp150,000, class 2 Rp100,000,
  class 3 Rp35,000.
- Rule 2: only PBPU and BP participants are billed; PBI (paid by the state) and PPU (paid
  through the employer's payroll) have no bills to show.
- Rule 3: a month's bill is due on the 10th of that month.
- Rule 4: arrears are the unpaid bills whose due date has passed; a family with arrears is
  TIDAK_AKTIF (TUNGGAKAN_IURAN); paying every arrear makes it AKTIF at once.
- Rule 5: a payment's virtual account expires 24 hours after it is created.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

MONTHLY_PREMIUM_IDR = {1: 150_000, 2: 100_000, 3: 35_000}
SELF_PAYING_SEGMENTS = frozenset({"PBPU", "BP"})
DUE_DAY = 10
PAYMENT_LIFETIME = timedelta(hours=24)


def monthly_premium_idr(care_class: int) -> int:
    """Rule 1."""
    return MONTHLY_PREMIUM_IDR[care_class]


def is_billed(segment: str) -> bool:
    """Rule 2."""
    return segment in SELF_PAYING_SEGMENTS


def due_date(period: str) -> date:
    """Rule 3: ``"2026-08"`` → 2026-08-10."""
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, DUE_DAY)


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift_period(period: str, months: int) -> str:
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def in_arrears(*, status: str, period: str, today: date) -> bool:
    """Rule 4: unpaid and past its due date."""
    return status == "UNPAID" and due_date(period) < today


def payment_expires_at(created_at: datetime) -> datetime:
    """Rule 5."""
    return created_at + PAYMENT_LIFETIME

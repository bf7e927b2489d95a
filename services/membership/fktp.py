"""Changing one's first-level facility (FKTP).

- Rule 1: a participant may change FKTP once per 3 calendar months, counted from the last
  change (or, if never changed, from registration): allowed from the same day of the month
  three months later (clamped to the month's last day).
- Rule 2: a change takes effect on the 1st of the next month; until then the old FKTP serves.
- Rule 3: the new facility must be an FKTP (not a hospital) and not the current one.
"""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_change_allowed_on(last_change_or_registration: date) -> date:
    """Rule 1."""
    return add_months(last_change_or_registration, 3)


def effective_date(requested_on: date) -> date:
    """Rule 2."""
    return add_months(requested_on.replace(day=1), 1)


def can_change(*, last_change_or_registration: date, today: date) -> bool:
    return today >= next_change_allowed_on(last_change_or_registration)


def is_valid_new_fktp(*, facility_type: str, facility_code: str, current_code: str) -> bool:
    """Rule 3: the new facility must be an FKTP (``facility_type == "FKTP"``, not a hospital) and not
    the participant's current one (``current_code``; empty for a new participant)."""
    return facility_type == "FKTP" and facility_code != current_code

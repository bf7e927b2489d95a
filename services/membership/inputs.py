"""The shapes of membership's request fields (a malformed one is a 422 naming the field).

- Rule 1: dates are ``YYYY-MM-DD`` (Asia/Jakarta calendar dates), exactly: ten ASCII characters
  naming a day that exists.
- Rule 2: billing periods are ``YYYY-MM`` with a month 01–12; a payment request names at most
  `MAX_PERIODS` of them.
- Rule 3: an id of a record (a participant, an enrolment, a payment) is a UUID; a malformed one
  names nothing, so it is simply not found (never a database error).
"""

from __future__ import annotations

import re
import uuid
from datetime import date

from services.kit.errors import ValidationFailed

MAX_PERIODS = 120
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    """The 422 for one field that has the wrong shape."""
    return ValidationFailed([{"field": field, "code": code, "message": message}])


def parse_date(value: str, field: str) -> date:
    """Rule 1."""
    day = as_date(value)
    if day is None:
        raise invalid(field, "expected YYYY-MM-DD")
    return day


def as_date(value: str) -> date | None:
    """Rule 1: the date, or None when ``value`` is not one."""
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_period(value: str) -> bool:
    """Rule 2: ``"2026-08"``."""
    return _PERIOD.fullmatch(value) is not None


def check_periods(periods: list[str]) -> None:
    """Rule 2, for a payment request."""
    if len(periods) > MAX_PERIODS:
        raise invalid("periods", f"at most {MAX_PERIODS} periods")
    if not all(is_period(period) for period in periods):
        raise invalid("periods", "YYYY-MM")


def as_uuid(value: str) -> uuid.UUID | None:
    """Rule 3: the id, or None when ``value`` is not a UUID."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None

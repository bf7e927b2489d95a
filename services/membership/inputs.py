"""The shapes of membership's request fields (a malformed one is a 422 naming the field).

- Rule 1: dates are ``YYYY-MM-DD`` (Asia/Jakarta calendar dates).
- Rule 2: billing periods are ``YYYY-MM``.
"""

from __future__ import annotations

from datetime import date

from services.kit.errors import ValidationFailed


def invalid(field: str, message: str) -> ValidationFailed:
    """The 422 for one field that has the wrong shape."""
    return ValidationFailed([{"field": field, "code": "invalid", "message": message}])


def parse_date(value: str, field: str) -> date:
    """Rule 1."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "expected YYYY-MM-DD") from None


def is_period(value: str) -> bool:
    """Rule 2: ``"2026-08"``."""
    return len(value) == 7 and value[4] == "-" and (value[:4] + value[5:]).isdigit()

"""The platform's calendar (DESIGN.md conventions): dates are Asia/Jakarta calendar dates,
instants are UTC. Every module that needs "today" or a Jakarta wall-clock time asks here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def jakarta_now(offset_s: float = 0) -> datetime:
    """Now on the Jakarta wall clock (``offset_s`` shifts it: a dev/test-only clock offset)."""
    return datetime.now(JAKARTA) + timedelta(seconds=offset_s)


def jakarta_today(offset_s: float = 0) -> date:
    """Today's Asia/Jakarta calendar date."""
    return jakarta_now(offset_s).date()

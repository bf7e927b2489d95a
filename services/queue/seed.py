"""Queue's demo data (CONTRACT.md §6), relative to the stack's first day.

Facilities, doctors, schedules and referrals arrive with issue 6 (the queue model).
"""

from __future__ import annotations

from datetime import date

import asyncpg


async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
    """Insert the demo facilities and schedules of CONTRACT.md §6 (none until the model exists)."""

"""Membership's demo data (CONTRACT.md §6), relative to the stack's first day.

The participants, families and bills arrive with issue 4 (the membership model).
"""

from __future__ import annotations

from datetime import date

import asyncpg


async def seed_demo(conn: asyncpg.Connection, today: date) -> None:
    """Insert the demo participants of CONTRACT.md §6 (none until the model exists)."""

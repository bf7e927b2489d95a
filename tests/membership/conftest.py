"""The gateway fixtures, for the membership tests that go through the edge, and membership's own
database with the demo data (CONTRACT.md §6), for the tests of its use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from services.kit import db
from services.kit.clock import jakarta_today
from services.kit.seed import seed_once
from services.membership.app import MIGRATIONS
from services.membership.seed import seed_demo
from tests.gateway.conftest import gateway_client  # noqa: F401


@pytest_asyncio.fixture
async def membership_db(fresh_database) -> AsyncIterator[asyncpg.Pool]:
    """A new membership database (function scope), migrated and seeded with today's demo data."""
    dsn = fresh_database("membership_use_cases")
    await db.migrate(dsn, MIGRATIONS)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        await seed_once(pool, service="membership", today=jakarta_today(), seed=seed_demo)
        yield pool
    finally:
        await pool.close()

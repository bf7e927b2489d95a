"""Auth's store: contact statements are chosen from a fixed list, never built from input."""

from __future__ import annotations

import asyncpg
import pytest

from services.auth import store
from services.auth.app import MIGRATIONS
from services.auth.passwords import Hasher
from services.auth.seed import seeder
from services.kit import db


async def test_contact_in_use_knows_emails_and_phones_and_refuses_any_other_column(fresh_database):
    dsn = fresh_database("auth_store")
    await db.migrate(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await seeder(Hasher(memory_kib=19_456, time_cost=2, parallelism=1))(conn, None)
        assert await store.contact_in_use(conn, kind="email", value="dewi.lestari@example.id")
        assert await store.contact_in_use(conn, kind="phone", value="+6281234500006")
        assert not await store.contact_in_use(conn, kind="email", value="+6281234500006")
        assert not await store.contact_in_use(conn, kind="phone", value="nobody@example.id")
        for column in ("nik", "email = email OR true --", "password_hash"):
            with pytest.raises(ValueError, match="not a contact kind"):
                await store.contact_in_use(conn, kind=column, value="x")  # type: ignore[arg-type]
    finally:
        await conn.close()


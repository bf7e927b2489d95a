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



async def test_a_taken_email_or_participant_refuses_the_account_and_leaves_the_registration_pending(fresh_database):
    import uuid
    from datetime import UTC, date, datetime, timedelta

    dsn = fresh_database("auth_store")
    await db.migrate(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await seeder(Hasher(memory_kib=19_456, time_cost=2, parallelism=1))(conn, None)

        async def registration(*, noka: str, nik: str, email: str | None) -> asyncpg.Record:
            registration_id = uuid.uuid4()
            await store.add_registration(
                conn, registration_id=registration_id, participant_id=str(uuid.uuid4()), noka=noka, nik=nik,
                name="BUDI SANTOSO", birth_date=date(1980, 1, 15), phone="+6281234500001", email=email,
                password_hash="x", verification_id="v", expires_at=datetime.now(UTC) + timedelta(hours=1))
            return await store.pending_registration(conn, registration_id=str(registration_id))

        taken = []
        for pending in (await registration(noka="0001234567801", nik="3171011501800001",
                                           email="dewi.lestari@example.id"),
                        await registration(noka="0004567890006", nik="3171011501800001", email=None),
                        await registration(noka="0001234567801", nik="5171014408950006", email=None)):
            with pytest.raises(store.Taken) as refused:
                async with conn.transaction():
                    await store.create_account(conn, registration=pending)
            taken.append(refused.value.what)
            assert await store.pending_registration(conn, registration_id=str(pending["id"])) is not None
        fine = await registration(noka="0001234567801", nik="3171011501800001", email="budi@example.id")
        async with conn.transaction():
            account_id = await store.create_account(conn, registration=fine)
        assert taken == ["email", "participant", "participant"]
        assert await store.pending_registration(conn, registration_id=str(fine["id"])) is None
        assert (await store.account_by_id(conn, account_id=account_id))["email"] == "budi@example.id"
    finally:
        await conn.close()


async def test_an_email_names_an_account_only_once_verified(fresh_database):
    dsn = fresh_database("auth_store")
    await db.migrate(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await seeder(Hasher(memory_kib=19_456, time_cost=2, parallelism=1))(conn, None)
        assert (await store.account_by_login(conn, identifier="Dewi.Lestari@Example.ID"))["noka"] == "0004567890006"
        assert await store.account_by_login(conn, identifier="rudi.hartono@example.id") is None  # not verified
        assert (await store.account_by_login(conn, identifier="0005678900007"))["noka"] == "0005678900007"
    finally:
        await conn.close()

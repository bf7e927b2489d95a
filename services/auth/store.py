"""Auth's SQL (its own database ``jkn_auth``)."""

from __future__ import annotations

import asyncpg

ACCOUNT_COLUMNS = ("id, participant_id, noka, nik, name, birth_date, phone, email, email_verified, password_hash,"
                   " pin_hash, created_at, email_verification_id")


async def account_by_login(conn, identifier: str) -> asyncpg.Record | None:
    """By NIK, NOKA or email (each unique)."""
    return await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE nik = $1 OR noka = $1 OR email = $2",
                               identifier, identifier.lower())


async def account_by_id(conn, account_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1::uuid", account_id)


async def participant_has_account(conn, noka: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM accounts WHERE noka = $1)", noka))


async def add_registration(conn, **fields) -> None:
    await conn.execute(
        "INSERT INTO registrations (id, participant_id, noka, nik, name, birth_date, phone, email, password_hash,"
        " verification_id, status, expires_at) VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10,"
        " 'PENDING_VERIFICATION', $11)",
        fields["registration_id"], fields["participant_id"], fields["noka"], fields["nik"], fields["name"],
        fields["birth_date"], fields["phone"], fields["email"], fields["password_hash"], fields["verification_id"],
        fields["expires_at"])


async def pending_registration(conn, registration_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM registrations WHERE id = $1::uuid AND status = 'PENDING_VERIFICATION' AND expires_at > now()",
        registration_id)


async def create_account(conn: asyncpg.Connection, registration: asyncpg.Record) -> str | None:
    """The account of a verified registration (None if the participant got one meanwhile)."""
    account_id = await conn.fetchval(
        "INSERT INTO accounts (participant_id, noka, nik, name, birth_date, phone, email, password_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id",
        registration["participant_id"], registration["noka"], registration["nik"], registration["name"],
        registration["birth_date"], registration["phone"], registration["email"], registration["password_hash"])
    await conn.execute("UPDATE registrations SET status = 'COMPLETED' WHERE id = $1", registration["id"])
    return str(account_id) if account_id else None


async def open_session(conn: asyncpg.Connection, *, account_id, device: str, token_hash: str, expires_at) -> str:
    session_id = await conn.fetchval("INSERT INTO sessions (account_id, device) VALUES ($1, $2) RETURNING id",
                                     account_id, device[:200])
    await conn.execute("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
                       token_hash, session_id, expires_at)
    return str(session_id)


async def refresh_token_for_update(conn: asyncpg.Connection, token_hash: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT t.token_hash, t.session_id, t.rotated_at, t.expires_at, s.account_id, s.revoked_at, a.noka"
        " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN accounts a ON a.id = s.account_id"
        " WHERE t.token_hash = $1 FOR UPDATE OF t",
        token_hash)


async def rotate(conn: asyncpg.Connection, *, old_hash: str, session_id, new_hash: str, expires_at) -> None:
    await conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1", old_hash)
    await conn.execute("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
                       new_hash, session_id, expires_at)
    await conn.execute("UPDATE sessions SET last_seen = now() WHERE id = $1", session_id)


async def revoke_session(conn, session_id) -> None:
    await conn.execute("UPDATE sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::uuid",
                       str(session_id))


async def session_active(conn, session_id: str) -> bool:
    return bool(await conn.fetchval("SELECT revoked_at IS NULL FROM sessions WHERE id = $1::uuid", session_id))


async def add_password_reset(conn, *, reset_id, account_id, expires_at) -> None:
    """A reset exists for unknown identifiers too (account_id NULL): the answer never differs."""
    await conn.execute("INSERT INTO password_resets (id, account_id, expires_at) VALUES ($1, $2, $3)",
                       reset_id, account_id, expires_at)


async def set_reset_verification(conn, reset_id, verification_id: str) -> None:
    await conn.execute("UPDATE password_resets SET verification_id = $2 WHERE id = $1", reset_id, verification_id)


async def open_password_reset(conn, reset_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, account_id, verification_id FROM password_resets WHERE id = $1::uuid AND completed_at IS NULL"
        " AND expires_at > now() AND account_id IS NOT NULL AND verification_id IS NOT NULL", reset_id)


async def complete_password_reset(conn: asyncpg.Connection, *, reset_id, account_id, password_hash: str) -> list[str]:
    """New password, reset closed, every session revoked; returns the revoked session ids."""
    await conn.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash)
    await conn.execute("UPDATE password_resets SET completed_at = now() WHERE id = $1", reset_id)
    rows = await conn.fetch("UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL"
                            " RETURNING id", account_id)
    return [str(r["id"]) for r in rows]

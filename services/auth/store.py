"""Auth's SQL (its own database ``jkn_auth``): every statement of the service is here.

Functions take a pool or a connection (`Conn`); those that must run inside the caller's
transaction take an `asyncpg.Connection`. No statement is built from input: where a column
depends on what is changed (email or phone), each has its own literal statement.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal, TypeAlias, get_args

import asyncpg

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection
#: The contacts of an account that a person can change (a column of ``accounts`` each).
ContactKind = Literal["email", "phone"]
CONTACT_KINDS: tuple[str, ...] = get_args(ContactKind)

_ACCOUNT = ("SELECT id, participant_id, noka, nik, name, birth_date, phone, email, email_verified, password_hash,"
            " pin_hash, created_at, email_verification_id FROM accounts")


def _contact_statement(statements: dict[str, str], kind: str) -> str:
    statement = statements.get(kind)
    if statement is None:
        raise ValueError(f"{kind!r} is not a contact kind ({', '.join(CONTACT_KINDS)})")
    return statement


# --- accounts -------------------------------------------------------------------------------

class Taken(Exception):
    """A unique value of an account is another account's already: ``what`` is ``"email"`` or
    ``"participant"`` (its participant id, NIK or NOKA)."""

    def __init__(self, what: Literal["email", "participant"]):
        super().__init__(f"{what} already has an account")
        self.what = what


async def account_by_login(conn: Conn, *, identifier: str) -> asyncpg.Record | None:
    """By NIK, NOKA or *verified* email (each unique): an unverified email names no account."""
    return await conn.fetchrow(_ACCOUNT + " WHERE nik = $1 OR noka = $1 OR (email = $2 AND email_verified)",
                               identifier, identifier.lower())


async def account_by_id(conn: Conn, *, account_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_ACCOUNT + " WHERE id = $1::uuid", account_id)


async def participant_has_account(conn: Conn, *, noka: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM accounts WHERE noka = $1)", noka))


async def add_account(conn: Conn, *, noka: str, nik: str, name: str, birth_date: date, phone: str,
                      email: str | None, email_verified: bool, password_hash: str, pin_hash: str | None) -> None:
    """An account made directly (the demo data); participants' accounts come from `create_account`."""
    await conn.execute(
        "INSERT INTO accounts (noka, nik, name, birth_date, phone, email, email_verified, password_hash, pin_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", noka, nik, name, birth_date, phone, email, email_verified,
        password_hash, pin_hash)


async def set_password_hash(conn: Conn, *, account_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash)


async def set_pin_hash(conn: Conn, *, account_id: uuid.UUID, pin_hash: str) -> None:
    await conn.execute("UPDATE accounts SET pin_hash = $2 WHERE id = $1", account_id, pin_hash)


async def set_email_verification(conn: Conn, *, account_id: str, verification_id: str) -> None:
    """The pending verification of the account's email (the code sent after activation)."""
    await conn.execute("UPDATE accounts SET email_verification_id = $2 WHERE id = $1::uuid", account_id,
                       verification_id)


async def mark_email_verified(conn: Conn, *, account_id: uuid.UUID) -> None:
    await conn.execute("UPDATE accounts SET email_verified = true, email_verification_id = NULL WHERE id = $1",
                       account_id)


_CONTACT_IN_USE = {
    "email": "SELECT EXISTS (SELECT 1 FROM accounts WHERE email = $1)",
    "phone": "SELECT EXISTS (SELECT 1 FROM accounts WHERE phone = $1)",
}


async def contact_in_use(conn: Conn, *, kind: ContactKind, value: str) -> bool:
    """Whether any account has ``value`` as its ``kind`` (ValueError for a kind that is no contact)."""
    return bool(await conn.fetchval(_contact_statement(_CONTACT_IN_USE, kind), value))


async def set_email(conn: asyncpg.Connection, *, account_id: uuid.UUID, email: str) -> None:
    """A confirmed new email: it is verified by the code that confirmed it. `Taken` when another
    account has it (nothing is written: a savepoint)."""
    try:
        async with conn.transaction():
            await conn.execute("UPDATE accounts SET email = $2, email_verified = true WHERE id = $1", account_id,
                               email)
    except asyncpg.UniqueViolationError:
        raise Taken("email") from None


async def set_phone(conn: Conn, *, account_id: uuid.UUID, phone: str) -> None:
    await conn.execute("UPDATE accounts SET phone = $2 WHERE id = $1", account_id, phone)


async def phones_of_family(conn: Conn, *, nokas: list[str]) -> list[asyncpg.Record]:
    """``id, phone`` of every account of these card numbers (those without one are skipped)."""
    return await conn.fetch("SELECT id, phone FROM accounts WHERE noka = ANY($1)", nokas)


async def phone_of(conn: Conn, *, account_id: str) -> asyncpg.Record | None:
    """``id, phone`` of one account."""
    return await conn.fetchrow("SELECT id, phone FROM accounts WHERE id = $1::uuid", account_id)


# --- registrations --------------------------------------------------------------------------

async def add_registration(conn: Conn, *, registration_id: uuid.UUID, participant_id: str, noka: str, nik: str,
                           name: str, birth_date: date, phone: str, email: str | None, password_hash: str,
                           verification_id: str, expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO registrations (id, participant_id, noka, nik, name, birth_date, phone, email, password_hash,"
        " verification_id, status, expires_at) VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10,"
        " 'PENDING_VERIFICATION', $11)",
        registration_id, participant_id, noka, nik, name, birth_date, phone, email, password_hash, verification_id,
        expires_at)


async def pending_registration(conn: Conn, *, registration_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM registrations WHERE id = $1::uuid AND status = 'PENDING_VERIFICATION' AND expires_at > now()",
        registration_id)


async def registration_by_id(conn: Conn, *, registration_id: str) -> asyncpg.Record | None:
    """A registration in any state (``status``, ``expires_at``, ``email``, ``verification_id``)."""
    return await conn.fetchrow(
        "SELECT id, status, expires_at, email, verification_id FROM registrations WHERE id = $1::uuid",
        registration_id)


async def create_account(conn: asyncpg.Connection, *, registration: asyncpg.Record) -> str:
    """The account of a verified registration, which is then completed, in the caller's
    transaction. `Taken` when the participant or the email got an account meanwhile: then
    nothing is written (the insert runs in a savepoint) and the registration stays pending."""
    try:
        async with conn.transaction():
            account_id = await conn.fetchval(
                "INSERT INTO accounts (participant_id, noka, nik, name, birth_date, phone, email, password_hash)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                registration["participant_id"], registration["noka"], registration["nik"], registration["name"],
                registration["birth_date"], registration["phone"], registration["email"],
                registration["password_hash"])
    except asyncpg.UniqueViolationError as conflict:
        raise Taken("email" if conflict.constraint_name == "accounts_email_key" else "participant") from None
    await conn.execute("UPDATE registrations SET status = 'COMPLETED' WHERE id = $1", registration["id"])
    return str(account_id)


# --- sessions and refresh tokens ------------------------------------------------------------

async def device_known(conn: Conn, *, account_id: uuid.UUID, device: str) -> bool:
    """Whether the account ever had a session (open or ended) on this device."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM sessions WHERE account_id = $1 AND device = $2)",
                                    account_id, device))


async def open_session(conn: asyncpg.Connection, *, account_id: uuid.UUID, device: str, token_hash: str,
                       expires_at: datetime) -> str:
    session_id = await conn.fetchval("INSERT INTO sessions (account_id, device) VALUES ($1, $2) RETURNING id",
                                     account_id, device[:200])
    await conn.execute("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
                       token_hash, session_id, expires_at)
    return str(session_id)


async def refresh_token_for_update(conn: asyncpg.Connection, *, token_hash: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT t.token_hash, t.session_id, t.rotated_at, t.expires_at, s.account_id, s.revoked_at, a.noka"
        " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN accounts a ON a.id = s.account_id"
        " WHERE t.token_hash = $1 FOR UPDATE OF t",
        token_hash)


async def rotate(conn: asyncpg.Connection, *, old_hash: str, session_id: uuid.UUID, new_hash: str,
                 expires_at: datetime) -> None:
    await conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1", old_hash)
    await conn.execute("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
                       new_hash, session_id, expires_at)
    await conn.execute("UPDATE sessions SET last_seen = now() WHERE id = $1", session_id)


async def revoke_session(conn: Conn, *, session_id: str | uuid.UUID) -> None:
    await conn.execute("UPDATE sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::uuid",
                       str(session_id))


async def revoke_own_session(conn: Conn, *, account_id: str, session_id: str) -> bool:
    """End one open session of this account; False when there is none such (or it is another's)."""
    ended = await conn.fetchval(
        "UPDATE sessions SET revoked_at = now() WHERE id = $1::uuid AND account_id = $2::uuid"
        " AND revoked_at IS NULL RETURNING id", session_id, account_id)
    return ended is not None


async def open_sessions(conn: Conn, *, account_id: str) -> list[asyncpg.Record]:
    """The account's sessions that have not ended, most recently used first."""
    return await conn.fetch(
        "SELECT id, device, created_at, last_seen FROM sessions WHERE account_id = $1::uuid AND revoked_at IS NULL"
        " ORDER BY last_seen DESC", account_id)


# --- password resets ------------------------------------------------------------------------

async def add_password_reset(conn: Conn, *, reset_id: uuid.UUID, account_id: uuid.UUID | None,
                             expires_at: datetime) -> None:
    """A reset exists for unknown identifiers too (account_id NULL): the answer never differs."""
    await conn.execute("INSERT INTO password_resets (id, account_id, expires_at) VALUES ($1, $2, $3)",
                       reset_id, account_id, expires_at)


async def set_reset_verification(conn: Conn, *, reset_id: uuid.UUID, verification_id: str) -> None:
    await conn.execute("UPDATE password_resets SET verification_id = $2 WHERE id = $1", reset_id, verification_id)


async def open_password_reset(conn: Conn, *, reset_id: str) -> asyncpg.Record | None:
    """``id, account_id, verification_id`` of an open, unexpired reset, with or without an account
    (``account_id`` NULL) and with or without a code sent yet (``verification_id`` NULL)."""
    return await conn.fetchrow(
        "SELECT id, account_id, verification_id FROM password_resets WHERE id = $1::uuid AND completed_at IS NULL"
        " AND expires_at > now()", reset_id)


async def complete_password_reset(conn: asyncpg.Connection, *, reset_id: uuid.UUID, account_id: uuid.UUID,
                                  password_hash: str) -> list[str] | None:
    """Reset closed, new password, every session revoked; returns the revoked session ids, or
    None (nothing written) when the reset was completed meanwhile."""
    closed = await conn.fetchval("UPDATE password_resets SET completed_at = now() WHERE id = $1"
                                 " AND completed_at IS NULL RETURNING id", reset_id)
    if closed is None:
        return None
    await conn.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash)
    rows = await conn.fetch("UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL"
                            " RETURNING id", account_id)
    return [str(r["id"]) for r in rows]


# --- contact changes ------------------------------------------------------------------------

async def add_contact_change(conn: Conn, *, change_id: uuid.UUID, account_id: uuid.UUID, kind: ContactKind,
                             new_value: str, verification_id: str, expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO contact_changes (id, account_id, kind, new_value, verification_id, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)", change_id, account_id, kind, new_value, verification_id, expires_at)


async def open_contact_change(conn: Conn, *, change_id: str, account_id: uuid.UUID,
                              kind: ContactKind) -> asyncpg.Record | None:
    """``id, new_value, verification_id`` of this account's pending, unexpired change of ``kind``."""
    return await conn.fetchrow(
        "SELECT id, new_value, verification_id FROM contact_changes WHERE id = $1::uuid AND account_id = $2"
        " AND kind = $3 AND completed_at IS NULL AND expires_at > now()", change_id, account_id, kind)


async def complete_contact_change(conn: Conn, *, change_id: uuid.UUID) -> None:
    await conn.execute("UPDATE contact_changes SET completed_at = now() WHERE id = $1", change_id)


# --- account recoveries ---------------------------------------------------------------------

_RECOVERY = ("SELECT id, account_id, new_phone, status, email_verification_id, phone_verification_id, created_at,"
             " expires_at, effective_at FROM account_recoveries")


async def add_recovery(conn: Conn, *, recovery_id: uuid.UUID, account_id: uuid.UUID | None, new_phone: str,
                       expires_at: datetime) -> None:
    """A recovery exists for unknown identities too (account_id NULL): the answer never differs."""
    await conn.execute("INSERT INTO account_recoveries (id, account_id, new_phone, expires_at)"
                       " VALUES ($1, $2, $3, $4)", recovery_id, account_id, new_phone, expires_at)


async def set_recovery_email_verification(conn: Conn, *, recovery_id: uuid.UUID, verification_id: str) -> None:
    await conn.execute("UPDATE account_recoveries SET email_verification_id = $2 WHERE id = $1", recovery_id,
                       verification_id)


async def open_recovery(conn: Conn, *, recovery_id: str, status: str) -> asyncpg.Record | None:
    """A recovery in ``status`` (EMAIL_PENDING or PHONE_PENDING) whose flow has not expired."""
    return await conn.fetchrow(_RECOVERY + " WHERE id = $1::uuid AND status = $2 AND expires_at > now()",
                               recovery_id, status)


async def recovery_email_verified(conn: Conn, *, recovery_id: uuid.UUID, phone_verification_id: str) -> bool:
    """EMAIL_PENDING → PHONE_PENDING with the new phone's verification; False when it moved meanwhile."""
    moved = await conn.fetchval(
        "UPDATE account_recoveries SET status = 'PHONE_PENDING', phone_verification_id = $2"
        " WHERE id = $1 AND status = 'EMAIL_PENDING' RETURNING id", recovery_id, phone_verification_id)
    return moved is not None


class RecoveryPending(Exception):
    """The account has a scheduled recovery already (at most one)."""


async def schedule_recovery(conn: asyncpg.Connection, *, recovery_id: uuid.UUID, effective_at: datetime) -> bool:
    """PHONE_PENDING → SCHEDULED; False when it moved meanwhile, `RecoveryPending` when the account
    has another one scheduled (nothing written: a savepoint)."""
    try:
        async with conn.transaction():
            moved = await conn.fetchval(
                "UPDATE account_recoveries SET status = 'SCHEDULED', effective_at = $2"
                " WHERE id = $1 AND status = 'PHONE_PENDING' RETURNING id", recovery_id, effective_at)
    except asyncpg.UniqueViolationError:
        raise RecoveryPending from None
    return moved is not None


async def pending_recoveries(conn: Conn, *, account_id: str) -> list[asyncpg.Record]:
    """The account's scheduled recoveries, newest first."""
    return await conn.fetch(_RECOVERY + " WHERE account_id = $1::uuid AND status = 'SCHEDULED'"
                            " ORDER BY created_at DESC", account_id)


async def cancel_recovery(conn: Conn, *, account_id: str, recovery_id: str) -> bool:
    """Stop one of the account's scheduled recoveries; False when there is none such."""
    cancelled = await conn.fetchval(
        "UPDATE account_recoveries SET status = 'CANCELLED', finished_at = now() WHERE id = $1::uuid"
        " AND account_id = $2::uuid AND status = 'SCHEDULED' RETURNING id", recovery_id, account_id)
    return cancelled is not None


async def due_recoveries(conn: asyncpg.Connection, *, now: datetime, limit: int = 100) -> list[asyncpg.Record]:
    """Scheduled recoveries whose time has come, locked for this transaction (others skip them)."""
    return await conn.fetch(_RECOVERY + " WHERE status = 'SCHEDULED' AND effective_at <= $1"
                            " ORDER BY effective_at LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)


async def apply_recovery(conn: asyncpg.Connection, *, recovery_id: uuid.UUID, account_id: uuid.UUID,
                         new_phone: str) -> list[str]:
    """The new phone replaces the account's, the recovery is applied, every session revoked;
    returns the revoked session ids."""
    await conn.execute("UPDATE accounts SET phone = $2 WHERE id = $1", account_id, new_phone)
    await conn.execute("UPDATE account_recoveries SET status = 'APPLIED', finished_at = now() WHERE id = $1",
                       recovery_id)
    rows = await conn.fetch("UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL"
                            " RETURNING id", account_id)
    return [str(r["id"]) for r in rows]

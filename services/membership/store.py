"""Membership's SQL (its own database ``jkn_membership``). Every function takes a pool or the
connection of the caller's transaction; those that lock rows or write several need the latter."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

PARTICIPANT_COLUMNS = (
    "p.id, p.nik, p.noka, p.name, p.birth_date, p.sex, p.family_id, p.relation, p.segment, p.care_class,"
    " p.status, p.status_reason, p.fktp_code, p.fktp_name, p.registered_on")

# --- participants and families -------------------------------------------------------------

async def participant_by(conn: asyncpg.Pool | asyncpg.Connection, *, noka: str | None = None, nik: str | None = None,
                         participant_id: uuid.UUID | None = None) -> asyncpg.Record | None:
    """One participant by NOKA, NIK or id (each is unique and indexed)."""
    if noka is not None:
        return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.noka = $1", noka)
    if nik is not None:
        return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.nik = $1", nik)
    return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.id = $1",
                               participant_id)


async def family_of(conn: asyncpg.Pool | asyncpg.Connection, *, family_id: int) -> list[asyncpg.Record]:
    """Every member of a family, head first, then the spouse, then by birth date."""
    return await conn.fetch(
        f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.family_id = $1"
        " ORDER BY (p.relation = 'HEAD') DESC, (p.relation = 'SPOUSE') DESC, p.birth_date", family_id)


async def family_nokas_of(conn: asyncpg.Pool | asyncpg.Connection, *, nokas: list[str]) -> list[str]:
    """The NOKAs of every member of the families of ``nokas``."""
    rows = await conn.fetch("SELECT noka FROM participants WHERE family_id IN"
                            " (SELECT family_id FROM participants WHERE noka = ANY($1))", nokas)
    return [r["noka"] for r in rows]


async def taken_niks(conn: asyncpg.Pool | asyncpg.Connection, *, niks: list[str]) -> list[str]:
    """Those of ``niks`` that already belong to a participant."""
    return [r["nik"] for r in await conn.fetch("SELECT nik FROM participants WHERE nik = ANY($1)", niks)]


async def kk_registered(conn: asyncpg.Pool | asyncpg.Connection, *, kk_number: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM families WHERE kk_number = $1)", kk_number))


async def activate_family(conn: asyncpg.Connection, *, family_id: int) -> list[str]:
    """Members inactive for arrears or an awaited first payment become AKTIF; their NOKAs."""
    rows = await conn.fetch(
        "UPDATE participants SET status = 'AKTIF', status_reason = NULL WHERE family_id = $1"
        " AND status = 'TIDAK_AKTIF' AND status_reason IN ('TUNGGAKAN_IURAN', 'MENUNGGU_PEMBAYARAN')"
        " RETURNING noka", family_id)
    return [r["noka"] for r in rows]


async def deactivate_families_in_arrears(conn: asyncpg.Connection, *, today: date) -> list[str]:
    """Members of families with a past-due unpaid bill become TIDAK_AKTIF (TUNGGAKAN_IURAN); their NOKAs."""
    rows = await conn.fetch(
        "UPDATE participants p SET status = 'TIDAK_AKTIF', status_reason = 'TUNGGAKAN_IURAN'"
        " WHERE p.status = 'AKTIF' AND p.family_id IN (SELECT m.family_id FROM bills b"
        " JOIN participants m ON m.id = b.participant_id WHERE b.status = 'UNPAID'"
        " AND to_date(b.period || '-10', 'YYYY-MM-DD') < $1) RETURNING p.noka", today)
    return [r["noka"] for r in rows]


# --- FKTP changes --------------------------------------------------------------------------

async def pending_fktp_changes(conn: asyncpg.Pool | asyncpg.Connection, *,
                               participant_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """The latest change not yet applied of each participant that has one, by participant id."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (participant_id) participant_id, to_code, to_name, effective_date FROM fktp_changes"
        " WHERE participant_id = ANY($1::uuid[]) AND NOT applied ORDER BY participant_id, requested_on DESC",
        participant_ids)
    return {r["participant_id"]: r for r in rows}


async def last_fktp_change_on(conn: asyncpg.Pool | asyncpg.Connection, *, participant_id: uuid.UUID) -> date | None:
    """When the participant last asked for a change (None: never)."""
    return await conn.fetchval("SELECT max(requested_on) FROM fktp_changes WHERE participant_id = $1",
                               participant_id)


async def add_fktp_change(conn: asyncpg.Connection, *, participant_id: uuid.UUID, from_code: str, to_code: str,
                          to_name: str, requested_on: date, effective_date: date) -> None:
    await conn.execute(
        "INSERT INTO fktp_changes (participant_id, from_code, to_code, to_name, requested_on, effective_date)"
        " VALUES ($1, $2, $3, $4, $5, $6)", participant_id, from_code, to_code, to_name, requested_on, effective_date)


async def apply_due_fktp_changes(conn: asyncpg.Connection, *, today: date) -> list[asyncpg.Record]:
    """Move every participant whose change took effect by ``today``; return (noka, fktp_code) of each."""
    return await conn.fetch(
        "WITH due AS (UPDATE fktp_changes SET applied = true WHERE NOT applied AND effective_date <= $1"
        " RETURNING participant_id, to_code, to_name)"
        " UPDATE participants p SET fktp_code = due.to_code, fktp_name = due.to_name FROM due"
        " WHERE p.id = due.participant_id RETURNING p.noka, p.fktp_code", today)


# --- bills and payments --------------------------------------------------------------------

async def family_bills(conn: asyncpg.Pool | asyncpg.Connection, *, family_id: int) -> list[asyncpg.Record]:
    """The family's bills by period, newest first: one amount per period for all its billed members."""
    return await conn.fetch(
        "SELECT b.period, sum(b.amount_idr)::bigint AS amount_idr,"
        " CASE WHEN bool_and(b.status = 'PAID') THEN 'PAID' ELSE 'UNPAID' END AS status, max(b.paid_at) AS paid_at"
        " FROM bills b JOIN participants p ON p.id = b.participant_id WHERE p.family_id = $1"
        " GROUP BY b.period ORDER BY b.period DESC", family_id)


async def unpaid_family_bills(conn: asyncpg.Connection, *, family_id: int,
                              periods: list[str]) -> list[asyncpg.Record]:
    """Unpaid bills of the family (for ``periods``, or all when empty), locked for the payment."""
    return await conn.fetch(
        "SELECT b.participant_id, b.period, b.amount_idr FROM bills b JOIN participants p ON p.id = b.participant_id"
        " WHERE p.family_id = $1 AND b.status = 'UNPAID' AND (cardinality($2::text[]) = 0 OR b.period = ANY($2))"
        " ORDER BY b.period FOR UPDATE OF b", family_id, periods)


async def family_has_arrears(conn: asyncpg.Pool | asyncpg.Connection, *, family_id: int, today: date) -> bool:
    """Whether any bill of the family is unpaid past its due date (the 10th of its month)."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM bills b JOIN participants p ON p.id = b.participant_id"
        " WHERE p.family_id = $1 AND b.status = 'UNPAID' AND to_date(b.period || '-10', 'YYYY-MM-DD') < $2)",
        family_id, today))


async def bill_period(conn: asyncpg.Connection, *, period: str) -> int:
    """Bill every self-paying participant for ``period`` (once); returns how many bills were made."""
    status = await conn.execute(
        "INSERT INTO bills (participant_id, period, amount_idr, status)"
        " SELECT id, $1, CASE care_class WHEN 1 THEN 150000 WHEN 2 THEN 100000 ELSE 35000 END, 'UNPAID'"
        " FROM participants WHERE segment IN ('PBPU', 'BP') AND status_reason IS DISTINCT FROM 'MENINGGAL'"
        " ON CONFLICT (participant_id, period) DO NOTHING", period)
    return int(status.split()[-1])


async def lock_family(conn: asyncpg.Connection, *, family_id: int) -> None:
    """Lock the family's row until the end of the caller's transaction: its payments are opened,
    superseded and settled one at a time (always taken first, so no two of them deadlock)."""
    await conn.execute("SELECT 1 FROM families WHERE id = $1 FOR UPDATE", family_id)


PAYMENT_COLUMNS = "id, family_id, virtual_account, amount_idr, periods, status, expires_at, provider_ref"


async def open_payment_of(conn: asyncpg.Connection, *, family_id: int) -> asyncpg.Record | None:
    """The family's open (PENDING) payment, locked (None: none is open)."""
    return await conn.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE family_id = $1 AND status = 'PENDING'"
                               " ORDER BY created_at DESC LIMIT 1 FOR UPDATE", family_id)


async def payment_bill_keys(conn: asyncpg.Pool | asyncpg.Connection, *,
                            payment_id: uuid.UUID) -> set[tuple[uuid.UUID, str]]:
    """The (participant id, period) of every bill a payment covers."""
    rows = await conn.fetch("SELECT participant_id, period FROM payment_bills WHERE payment_id = $1", payment_id)
    return {(r["participant_id"], r["period"]) for r in rows}


async def open_payment(conn: asyncpg.Connection, *, family_id: int, virtual_account: str, amount_idr: int,
                       periods: list[str], expires_at: datetime) -> asyncpg.Record:
    """Supersede the family's open payment (EXPIRED, ``superseded_by`` the new one), then open a new
    one covering the family's unpaid bills of ``periods``."""
    payment_id = uuid.uuid4()
    await conn.execute("UPDATE payments SET status = 'EXPIRED', superseded_by = $2"
                       " WHERE family_id = $1 AND status = 'PENDING'", family_id, payment_id)
    row = await conn.fetchrow(
        "INSERT INTO payments (id, family_id, virtual_account, amount_idr, periods, status, expires_at)"
        f" VALUES ($1, $2, $3, $4, $5, 'PENDING', $6) RETURNING {PAYMENT_COLUMNS}",
        payment_id, family_id, virtual_account, amount_idr, periods, expires_at)
    await conn.execute(
        "INSERT INTO payment_bills (payment_id, participant_id, period, amount_idr)"
        " SELECT $1, b.participant_id, b.period, b.amount_idr FROM bills b JOIN participants p"
        " ON p.id = b.participant_id WHERE p.family_id = $2 AND b.status = 'UNPAID' AND b.period = ANY($3)",
        payment_id, family_id, periods)
    return row


async def payment_family(conn: asyncpg.Pool | asyncpg.Connection, *, payment_id: uuid.UUID) -> int | None:
    """The family a payment is for (None: no such payment); read without a lock."""
    return await conn.fetchval("SELECT family_id FROM payments WHERE id = $1", payment_id)


async def payment_for_update(conn: asyncpg.Connection, *, payment_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE", payment_id)


async def receipt_of(conn: asyncpg.Pool | asyncpg.Connection, *, provider_ref: str) -> asyncpg.Record | None:
    """The receipt of a provider's reference (``payment_id``, ``outcome``), None when never received."""
    return await conn.fetchrow("SELECT payment_id, outcome FROM payment_receipts WHERE provider_ref = $1",
                               provider_ref)


async def add_receipt(conn: asyncpg.Connection, *, provider_ref: str, payment_id: uuid.UUID, amount_idr: int,
                      paid_at: datetime, outcome: str) -> bool:
    """Record a received sum under the provider's reference; False when that reference is taken
    already (then nothing is written; a concurrent writer of it is waited for)."""
    return bool(await conn.fetchval(
        "INSERT INTO payment_receipts (provider_ref, payment_id, amount_idr, paid_at, outcome)"
        " VALUES ($1, $2, $3, $4, upper($5)) ON CONFLICT (provider_ref) DO NOTHING RETURNING true",
        provider_ref, payment_id, amount_idr, paid_at, outcome))


async def note_overpaid(conn: asyncpg.Connection, *, provider_ref: str, overpaid_idr: int) -> None:
    """What a receipt paid beyond its bills (the receipt then needs reconciliation)."""
    await conn.execute("UPDATE payment_receipts SET overpaid_idr = $2 WHERE provider_ref = $1",
                       provider_ref, overpaid_idr)


async def settle_payment(conn: asyncpg.Connection, *, payment_id: uuid.UUID, paid_at: datetime,
                         provider_ref: str) -> int:
    """The payment becomes PAID and those of its bills still unpaid PAID; returns their rupiah."""
    await conn.execute("UPDATE payments SET status = 'PAID', paid_at = $2, provider_ref = $3 WHERE id = $1",
                       payment_id, paid_at, provider_ref)
    return int(await conn.fetchval(
        "WITH paid AS (UPDATE bills b SET status = 'PAID', paid_at = $2 FROM payment_bills pb"
        " WHERE pb.payment_id = $1 AND b.participant_id = pb.participant_id AND b.period = pb.period"
        " AND b.status = 'UNPAID' RETURNING pb.amount_idr) SELECT coalesce(sum(amount_idr), 0) FROM paid",
        payment_id, paid_at))


async def supersede_payments_owing_paid_bills(conn: asyncpg.Connection, *, family_id: int,
                                              by: uuid.UUID) -> list[uuid.UUID]:
    """Open payments of the family covering a bill that is PAID now become EXPIRED, superseded
    ``by`` the payment that paid it; their ids."""
    rows = await conn.fetch(
        "UPDATE payments p SET status = 'EXPIRED', superseded_by = $2 WHERE p.family_id = $1"
        " AND p.status = 'PENDING' AND EXISTS (SELECT 1 FROM payment_bills pb JOIN bills b"
        " ON b.participant_id = pb.participant_id AND b.period = pb.period"
        " WHERE pb.payment_id = p.id AND b.status = 'PAID') RETURNING p.id", family_id, by)
    return [r["id"] for r in rows]


# --- enrolments ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PendingEnrollment:
    id: uuid.UUID
    verification_id: str
    #: The application as `add_enrollment` stored it (birth dates as ``YYYY-MM-DD`` text).
    application: dict[str, Any]


async def add_enrollment(conn: asyncpg.Pool | asyncpg.Connection, *, enrollment_id: uuid.UUID,
                         application: dict[str, Any], verification_id: str, expires_at: datetime) -> None:
    await conn.execute("INSERT INTO enrollments (id, application, verification_id, status, expires_at)"
                       " VALUES ($1, $2::jsonb, $3, 'PENDING', $4)", enrollment_id, json.dumps(application),
                       verification_id, expires_at)


async def pending_enrollment(conn: asyncpg.Pool | asyncpg.Connection, *,
                             enrollment_id: uuid.UUID) -> PendingEnrollment | None:
    """The enrolment if it is still pending and not expired."""
    row = await conn.fetchrow("SELECT id, application, verification_id FROM enrollments"
                              " WHERE id = $1 AND status = 'PENDING' AND expires_at > now()", enrollment_id)
    if row is None:
        return None
    return PendingEnrollment(id=row["id"], verification_id=row["verification_id"],
                             application=json.loads(row["application"]))


async def lock_pending_enrollment(conn: asyncpg.Connection, *, enrollment_id: uuid.UUID) -> bool:
    """Lock the enrolment's row if it is still pending (False: completed meanwhile)."""
    return bool(await conn.fetchval("SELECT true FROM enrollments WHERE id = $1 AND status = 'PENDING' FOR UPDATE",
                                    enrollment_id))


async def enroll_family(conn: asyncpg.Connection, *, enrollment_id: uuid.UUID, kk_number: str, address: str,
                        care_class: int, fktp_code: str, fktp_name: str, members: list[dict[str, str]],
                        period: str, premium_idr: int, registered_on: date) -> tuple[int, list[asyncpg.Record]]:
    """Create the family and its members (PBPU, TIDAK_AKTIF awaiting the first payment) with new
    NOKAs and their first bills of ``period``; mark the enrolment completed. Returns the family id
    and the members (in the order of ``members``)."""
    family_id = await conn.fetchval("INSERT INTO families (kk_number, address) VALUES ($1, $2) RETURNING id",
                                    kk_number, address)
    rows = []
    for member in members:
        rows.append(await conn.fetchrow(
            "INSERT INTO participants AS p (nik, noka, name, birth_date, sex, family_id, relation, segment, care_class,"
            " status, status_reason, fktp_code, fktp_name, registered_on) VALUES ($1, lpad(nextval('noka_seq')::text,"
            " 13, '0'), $2, $3::date, $4, $5, $6, 'PBPU', $7, 'TIDAK_AKTIF', 'MENUNGGU_PEMBAYARAN', $8, $9, $10)"
            f" RETURNING {PARTICIPANT_COLUMNS}",
            member["nik"], member["name"], date.fromisoformat(member["birth_date"]), member["sex"], family_id,
            member["relation"], care_class, fktp_code, fktp_name, registered_on))
    await conn.executemany(
        "INSERT INTO bills (participant_id, period, amount_idr, status) VALUES ($1, $2, $3, 'UNPAID')",
        [(m["id"], period, premium_idr) for m in rows])
    await conn.execute("UPDATE enrollments SET status = 'COMPLETED', family_id = $2 WHERE id = $1",
                       enrollment_id, family_id)
    return family_id, rows

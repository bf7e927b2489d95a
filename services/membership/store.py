"""Membership's SQL (its own database ``jkn_membership``)."""

from __future__ import annotations

import asyncpg

PARTICIPANT_COLUMNS = (
    "p.id, p.nik, p.noka, p.name, p.birth_date, p.sex, p.family_id, p.relation, p.segment, p.care_class,"
    " p.status, p.status_reason, p.fktp_code, p.fktp_name, p.registered_on")


async def participant_by(conn: asyncpg.Pool | asyncpg.Connection, *, noka: str | None = None,
                         nik: str | None = None, participant_id: str | None = None) -> asyncpg.Record | None:
    """One participant by NOKA, NIK or id (each is unique and indexed)."""
    if noka is not None:
        return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.noka = $1", noka)
    if nik is not None:
        return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.nik = $1", nik)
    return await conn.fetchrow(f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.id = $1::uuid",
                               participant_id)


async def family_of(conn: asyncpg.Pool | asyncpg.Connection, family_id: int) -> list[asyncpg.Record]:
    """Every member of a family, head first, then by birth date."""
    return await conn.fetch(
        f"SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.family_id = $1"
        " ORDER BY (p.relation = 'HEAD') DESC, (p.relation = 'SPOUSE') DESC, p.birth_date", family_id)


async def pending_fktp_changes(conn: asyncpg.Pool | asyncpg.Connection, participant_ids: list) -> dict:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (participant_id) participant_id, to_code, to_name, effective_date FROM fktp_changes"
        " WHERE participant_id = ANY($1::uuid[]) AND NOT applied ORDER BY participant_id, requested_on DESC",
        participant_ids)
    return {r["participant_id"]: r for r in rows}


async def family_bills(conn: asyncpg.Pool | asyncpg.Connection, family_id: int) -> list[asyncpg.Record]:
    """The family's bills by period: one amount per period for all its billed members."""
    return await conn.fetch(
        "SELECT b.period, sum(b.amount_idr)::bigint AS amount_idr,"
        " CASE WHEN bool_and(b.status = 'PAID') THEN 'PAID' ELSE 'UNPAID' END AS status, max(b.paid_at) AS paid_at"
        " FROM bills b JOIN participants p ON p.id = b.participant_id WHERE p.family_id = $1"
        " GROUP BY b.period ORDER BY b.period DESC", family_id)

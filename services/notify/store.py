"""Notify's SQL (its own database ``jkn_notify``)."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def list_dev_outbox(pool: asyncpg.Pool, *, to: str | None, limit: int) -> list[asyncpg.Record]:
    """Messages the dev outbox provider recorded, newest first, optionally for one recipient."""
    return await pool.fetch(
        "SELECT channel, recipient, subject, body, code, created_at FROM dev_outbox "
        "WHERE $1::text IS NULL OR recipient = $1 ORDER BY id DESC LIMIT $2", to, limit)


async def add_dev_outbox(conn: asyncpg.Connection | asyncpg.Pool, *, channel: str, recipient: str,
                         subject: str, body: str, code: str | None, at: datetime | None = None) -> None:
    """Record a message the dev outbox provider 'sent' (dev and test only)."""
    await conn.execute(
        "INSERT INTO dev_outbox (channel, recipient, subject, body, code, created_at) "
        "VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))", channel, recipient, subject, body, code, at)

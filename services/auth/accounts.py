"""The account of the signed-in person (GET /v1/me and every route that acts for them).

- Rule 1: an account id that is not a UUID, or names no account, is "not found" (404), never a
  database error.
"""

from __future__ import annotations

import asyncpg

from services.auth import store
from services.kit.errors import NotFound
from services.kit.ids import is_uuid


async def by_id(conn: store.Conn, *, account_id: str) -> asyncpg.Record:
    """Rule 1: the account (a `store.account_by_id` row)."""
    account = await store.account_by_id(conn, account_id=account_id) if is_uuid(account_id) else None
    if account is None:
        raise NotFound("no such account")
    return account

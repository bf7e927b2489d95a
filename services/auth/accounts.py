"""The account of the signed-in person (GET /v1/me and every route that acts for them).

- Rule 1: an account id that is not a UUID, or names no account, is "not found" (404), never a
  database error; a UUID in any usual spelling (braces, ``urn:uuid:``, no hyphens, upper case)
  is the same id (`canonical_id`, used for every id a client sends: accounts, sessions,
  registrations, resets, changes).
"""

from __future__ import annotations

import uuid

import asyncpg

from services.auth import store
from services.kit.errors import NotFound


def canonical_id(value: str) -> str | None:
    """Rule 1: the id as the database and Redis know it (lower case, hyphenated), None for no UUID."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


async def by_id(conn: store.Conn, *, account_id: str) -> asyncpg.Record:
    """Rule 1: the account (a `store.account_by_id` row)."""
    canonical = canonical_id(account_id)
    account = await store.account_by_id(conn, account_id=canonical) if canonical else None
    if account is None:
        raise NotFound("no such account")
    return account

"""The account's 6-digit PIN (CONTRACT.md §3 "PIN", §4 ``PUT /v1/me/pin``), which confirms
contact changes.

- Rule 1: setting or replacing the PIN needs the account's password (401 INVALID_CREDENTIALS
  when it is wrong).
- Rule 2: the PIN must not be weak (`passwords.pin_problems`: 6 digits, not one digit repeated,
  not a run) → 422 WEAK_PIN with ``reasons``. It is stored as an argon2id hash.
- Rule 3: replacing a PIN tells the account's phone (setting the first one does not); a PIN
  that is set clears the count of wrong PINs.
- Rule 4: a wrong PIN is 422 PIN_INVALID with ``attempts_left``; 5 wrong PINs lock PIN use for
  30 minutes (423 PIN_LOCKED with ``retry_after``; `pin_lock`), the fifth at once; a right PIN
  clears the count. An account without a PIN has every PIN wrong.
"""

from __future__ import annotations

import asyncpg

from services.auth import accounts, events, passwords, store
from services.auth.deps import Deps
from services.auth.pin_lock import MAX_WRONG
from services.kit.errors import DomainError


async def set_pin(deps: Deps, *, account_id: str, pin: str, password: str) -> None:
    """Rules 1–3."""
    account = await accounts.by_id(deps.pool, account_id=account_id)
    if not await deps.hasher.verify_async(account["password_hash"], password):
        raise DomainError("invalid credentials", code="INVALID_CREDENTIALS")
    reasons = passwords.pin_problems(pin)
    if reasons:
        raise DomainError("PIN too weak", code="WEAK_PIN", reasons=reasons)
    pin_hash = await deps.hasher.hash_async(pin)
    async with deps.pool.acquire() as conn, conn.transaction():
        await store.set_pin_hash(conn, account_id=account["id"], pin_hash=pin_hash)
        if account["pin_hash"] is not None:
            await events.tell(conn, events.pin_changed(phone=account["phone"]), account_id=str(account["id"]))
    await deps.pin_lock.succeeded(str(account["id"]))


async def verify(deps: Deps, *, account_id: str, pin: str) -> None:
    """Rule 4, for the account of ``account_id``."""
    await check(deps, account=await accounts.by_id(deps.pool, account_id=account_id), pin=pin)


async def check(deps: Deps, *, account: asyncpg.Record, pin: str) -> None:
    """Rule 4: return when ``pin`` is the account's PIN; raise PIN_INVALID or PIN_LOCKED otherwise."""
    await deps.pin_lock.check(str(account["id"]))
    if not await deps.hasher.verify_async(account["pin_hash"], pin):
        failures = await deps.pin_lock.failed(str(account["id"]))
        await deps.pin_lock.check(str(account["id"]))  # the fifth wrong PIN locks at once
        raise DomainError("wrong PIN", code="PIN_INVALID", attempts_left=MAX_WRONG - failures)
    await deps.pin_lock.succeeded(str(account["id"]))

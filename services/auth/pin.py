"""The account's 6-digit PIN (CONTRACT.md §3 "PIN", §4 ``PUT /v1/me/pin``), which confirms
contact changes.

- Rule 1: setting or replacing the PIN needs the account's password, and that check is a login
  attempt of the account (`lockout`, one counter with its logins): it is counted before it is
  checked, refused with 423 ACCOUNT_LOCKED while the account is locked (even with the right
  password), a wrong password is 401 INVALID_CREDENTIALS and counts as a login failure, the
  right one resets the count. There is no captcha here (the caller is signed in).
- Rule 2: the PIN must not be weak (`passwords.pin_problems`: 6 digits, not one digit repeated,
  not a run) → 422 WEAK_PIN with ``reasons``. It is stored as an argon2id hash.
- Rule 3: replacing a PIN tells the account's phone (setting the first one does not); a PIN
  that is set clears the count of wrong PINs.
- Rule 4: a wrong PIN is 422 PIN_INVALID with ``attempts_left``; 5 wrong PINs lock PIN use for
  30 minutes (423 PIN_LOCKED with ``retry_after``; `pin_lock`), the fifth at once; a right PIN
  clears the count. Each guess is counted before it is compared, so parallel guesses get no
  more than 5 comparisons. An account without a PIN has every PIN wrong.
"""

from __future__ import annotations

import asyncpg

from services.auth import accounts, events, lockout, passwords, store
from services.auth.deps import Deps
from services.auth.pin_lock import MAX_WRONG
from services.kit.errors import DomainError


async def set_pin(deps: Deps, *, account_id: str, pin: str, password: str) -> None:
    """Rules 1–3."""
    account = await accounts.by_id(deps.pool, account_id=account_id)
    key = lockout.account_key(str(account["id"]))
    await deps.lockout.reserve(key)
    if not await deps.hasher.verify_async(account["password_hash"], password):
        raise DomainError("invalid credentials", code="INVALID_CREDENTIALS")  # the reservation stays counted
    await deps.lockout.succeeded(key)
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
    account_id = str(account["id"])
    guess = await deps.pin_lock.reserve(account_id)  # counted before it is compared
    if not await deps.hasher.verify_async(account["pin_hash"], pin):
        if guess >= MAX_WRONG:  # the fifth wrong PIN locks at once
            raise DomainError("PIN locked", code="PIN_LOCKED", retry_after=await deps.pin_lock.retry_after(account_id))
        raise DomainError("wrong PIN", code="PIN_INVALID", attempts_left=MAX_WRONG - guess)
    await deps.pin_lock.succeeded(account_id)

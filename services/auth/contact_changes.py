"""Changing the account's email address or phone number (CONTRACT.md §4 ``/v1/me/email-changes``,
``/v1/me/phone-changes``): the PIN, a code to the new address, a notice to the old one.

- Rule 1: a new email is kept in lower case, a new phone in E.164 (`contracts.contacts`).
- Rule 2: the PIN confirms the person first (`pin` rule 4: PIN_INVALID, PIN_LOCKED).
- Rule 3: an address that an account already has (this one included) is refused before any code
  is sent: an email with 409 EMAIL_IN_USE, a phone with 409 ALREADY_REGISTERED. An email that
  another account took while the code was on its way is refused the same way when the code is
  checked, before the code is spent.
- Rule 4: the code goes to the new address (an email by email, a phone by SMS); the change
  stays open for 1 hour.
- Rule 5: the right code applies the change (a new email counts as verified: the code reached
  it) and, in the same transaction, tells the old address with the new one masked (an account
  that had no email is told nothing).
- Rule 6: a change that is unknown, expired, completed, of the other kind or another person's
  is "not found".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.auth import accounts, events, pin, store
from services.auth.deps import Deps
from services.auth.store import ContactKind
from services.contracts import otp
from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, NotFound

#: Rule 4.
CHANGE_LIFETIME = timedelta(hours=1)
_PURPOSE = {"email": notify_pb2.OTP_PURPOSE_EMAIL_CHANGE, "phone": notify_pb2.OTP_PURPOSE_PHONE_CHANGE}
_CHANNEL = {"email": common_pb2.CHANNEL_EMAIL, "phone": common_pb2.CHANNEL_SMS}


def normalized(kind: ContactKind, raw: str) -> str:
    """Rule 1 (a phone number that is not one stays as given; notify refuses it)."""
    if kind == "email":
        return raw.strip().lower()
    return normalize_phone(raw) or raw


async def start(deps: Deps, *, account_id: str, kind: ContactKind, new_value: str, pin_code: str,
                client: common_pb2.ClientContext) -> tuple[str, common_pb2.OtpChallenge]:
    """Rules 1–4: the change id and where its code went."""
    new_value = normalized(kind, new_value)
    account = await accounts.by_id(deps.pool, account_id=account_id)
    await pin.check(deps, account=account, pin=pin_code)
    if await store.contact_in_use(deps.pool, kind=kind, value=new_value):
        raise _in_use(kind)
    change_id = uuid.uuid4()
    issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
        purpose=_PURPOSE[kind], flow_id=str(change_id), channel=_CHANNEL[kind], destination=new_value,
        client_ip=client.client_ip, idempotency_key=str(change_id), language=client.language))
    await store.add_contact_change(deps.pool, change_id=change_id, account_id=account["id"], kind=kind,
                                   new_value=new_value, verification_id=issued.verification.verification_id,
                                   expires_at=datetime.now(UTC) + CHANGE_LIFETIME)
    return str(change_id), otp.challenge(issued.verification)


async def verify(deps: Deps, *, account_id: str, kind: ContactKind, change_id: str, code: str) -> None:
    """Rules 5–6."""
    account = await accounts.by_id(deps.pool, account_id=account_id)
    canonical = accounts.canonical_id(change_id)
    change = await store.open_contact_change(deps.pool, change_id=canonical, account_id=account["id"], kind=kind) \
        if canonical else None
    if change is None:  # another person's change is "not found" too
        raise NotFound("no such change")
    if kind == "email" and await store.contact_in_use(deps.pool, kind=kind, value=change["new_value"]):
        raise _in_use(kind)
    await otp.check_or_raise(deps.notify, verification_id=change["verification_id"], code=code,
                             purpose=_PURPOSE[kind], flow_id=str(change["id"]))
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            await _apply(conn, kind=kind, account=account, change=change)
    except store.Taken:
        raise _in_use(kind) from None


def _in_use(kind: ContactKind) -> DomainError:
    """Rule 3."""
    if kind == "email":
        return DomainError("email in use", code="EMAIL_IN_USE")
    return DomainError("phone already in use", code="ALREADY_REGISTERED")


async def _apply(conn: asyncpg.Connection, *, kind: ContactKind, account: asyncpg.Record,
                 change: asyncpg.Record) -> None:
    """Rule 5, inside the caller's transaction."""
    new_value, old_value = change["new_value"], account[kind]
    if kind == "email":
        await store.set_email(conn, account_id=account["id"], email=new_value)
    else:
        await store.set_phone(conn, account_id=account["id"], phone=new_value)
    await store.complete_contact_change(conn, change_id=change["id"])
    if old_value:
        notice = (events.email_changed(change_id=change["id"], old_email=old_value, new_email=new_value)
                  if kind == "email" else
                  events.phone_changed(change_id=change["id"], old_phone=old_value, new_phone=new_value))
        await events.tell(conn, notice, account_id=str(account["id"]))

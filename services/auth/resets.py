"""Password reset (CONTRACT.md §3 "password reset", §4 "Sessions").

- Rule 1: starting a reset always answers with a new reset id, whether or not the identifier
  (NIK, NOKA or email) names an account; the code is sent by SMS to the account's phone after
  the answer, so not even the time taken tells the difference. A code that could not be sent
  is logged; the person asks again.
- Rule 2: a reset stays open for 1 hour; one that is unknown, expired, completed, or for no
  account is "not found".
- Rule 3: the new password must be strong (`passwords`); it is checked before the code, which
  is single use.
- Rule 4: the right code sets the new password, closes the reset, ends every session of the
  account (their access tokens are refused at once) and tells the account's phone, in one
  transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.auth import accounts, events, passwords, store, tokens
from services.auth.deps import Deps
from services.contracts import otp, revocation
from services.kit.errors import NotFound
from services.kit.ids import is_uuid
from services.kit.logs import get_logger

log = get_logger("jkn.auth.resets")
#: Rule 2.
RESET_LIFETIME = timedelta(hours=1)


async def start(deps: Deps, *, identifier: str, client: common_pb2.ClientContext) -> str:
    """Rule 1: the reset id."""
    identifier = identifier.strip()
    account = await store.account_by_login(deps.pool, identifier=identifier) if identifier else None
    reset_id = uuid.uuid4()
    await store.add_password_reset(deps.pool, reset_id=reset_id, account_id=account["id"] if account else None,
                                   expires_at=datetime.now(UTC) + RESET_LIFETIME)
    if account is not None:
        deps.in_background(_send_code(deps, reset_id=reset_id, account=account, client=client))
    return str(reset_id)


async def _send_code(deps: Deps, *, reset_id: uuid.UUID, account: asyncpg.Record,
                     client: common_pb2.ClientContext) -> None:
    try:
        issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=notify_pb2.OTP_PURPOSE_PASSWORD_RESET, flow_id=str(reset_id), channel=common_pb2.CHANNEL_SMS,
            destination=account["phone"], client_ip=client.client_ip, idempotency_key=str(reset_id),
            language=client.language))
        await store.set_reset_verification(deps.pool, reset_id=reset_id,
                                           verification_id=issued.verification.verification_id)
    except Exception as error:  # noqa: BLE001 - the person asks again; the answer was already given
        log.warning("password_reset_code_not_sent", extra={"error": type(error).__name__})


async def complete(deps: Deps, *, reset_id: str, code: str, new_password: str) -> None:
    """Rules 2–4."""
    reset = await store.open_password_reset(deps.pool, reset_id=reset_id) if is_uuid(reset_id) else None
    if reset is None:
        raise NotFound("no such password reset")
    account = await accounts.by_id(deps.pool, account_id=str(reset["account_id"]))
    passwords.require_strong(new_password, nik=account["nik"], noka=account["noka"],
                             birth_date=account["birth_date"])  # before the code, which is single use
    await otp.check_or_raise(deps.notify, verification_id=reset["verification_id"], code=code,
                             purpose=notify_pb2.OTP_PURPOSE_PASSWORD_RESET, flow_id=reset_id)
    password_hash = await deps.hasher.hash_async(new_password)
    async with deps.pool.acquire() as conn, conn.transaction():
        revoked = await store.complete_password_reset(conn, reset_id=reset["id"], account_id=account["id"],
                                                      password_hash=password_hash)
        await events.tell(conn, events.password_changed(reset_id=reset["id"], phone=account["phone"]),
                          account_id=str(account["id"]))
    for session_id in revoked:
        await revocation.revoke_session(deps.redis, session_id, access_ttl_s=tokens.ACCESS_TTL_S)
    log.info("password_reset_completed", extra={"account_id": str(account["id"]), "sessions_ended": len(revoked)})

"""Password reset (CONTRACT.md §3 "password reset", "attempts under concurrency", §4 "Sessions").

- Rule 1: with the captcha on, a start without a passed captcha is refused first
  (CAPTCHA_REQUIRED). Otherwise starting a reset always answers with a new reset id, whether or
  not the identifier (NIK, NOKA or verified email) names an account; the code is sent by SMS to
  the account's phone after the answer, so not even the time taken tells the difference. A
  code that could not be sent is logged; the person asks again.
- Rule 2: a reset stays open for 1 hour; one that is unknown, expired or completed is "not
  found" — for an unknown identifier exactly as for an account.
- Rule 3: completing checks the code first. A reset for no account, or whose code was not
  (yet) sent, is checked against auth's stand-in verification (`reset_codes` rules 1–2), which
  answers every code exactly as notify answers a wrong one: OTP_INVALID with attempts_left
  4, 3, 2, 1, 0, then OTP_ATTEMPTS_EXCEEDED; expired, then not found, after its lifetime.
  Every code counts towards the cap of wrong codes of the account (or unknown identifier)
  across its resets — 20 in 24 h, then OTP_ATTEMPTS_EXCEEDED (`reset_codes` rule 5) — before it
  is checked.
- Rule 4: only a right code lets the new password be judged (`passwords`: 422 WEAK_PASSWORD
  with ``reasons``). notify spends a code it approves and cannot check one without spending
  it, so on WEAK_PASSWORD auth keeps the approved code itself (`reset_codes` rule 3: its argon2id
  hash and the count of wrong guesses, in the reset's state, under the same rules and lifetime):
  the same code, sent again with a strong password, completes the reset without a new code; a
  wrong one still counts.
- Rule 6: a reset's code can be sent again (`resend`), by SMS or, when the account has a verified
  email, to that email (the same code: the fallback when the SMS cannot be delivered). The answer
  is the same for every open reset, with or without an account, an email or a code that went out:
  the resend happens after the answer, and notify's cooldowns and caps refuse it silently (logged).
- Rule 5: the right code with a strong password sets it, closes the reset, ends every session
  of the account (their access tokens are refused at once) and tells the account's phone, in
  one transaction; a reset completed meanwhile by a parallel request is "not found".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.auth import accounts, events, lockout, passwords, store, tokens
from services.auth.deps import Deps
from services.contracts import otp, revocation
from services.kit.errors import DomainError, NotFound
from services.kit.logs import get_logger

log = get_logger("jkn.auth.resets")
#: Rule 2.
RESET_LIFETIME = timedelta(hours=1)
_PURPOSE = notify_pb2.OTP_PURPOSE_PASSWORD_RESET
_RESULTS = {"invalid": notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, "approved": notify_pb2.CHECK_OTP_RESULT_APPROVED,
            "expired": notify_pb2.CHECK_OTP_RESULT_EXPIRED,
            "max_attempts_reached": notify_pb2.CHECK_OTP_RESULT_MAX_ATTEMPTS_REACHED,
            "not_pending": notify_pb2.CHECK_OTP_RESULT_NOT_PENDING}


async def start(deps: Deps, *, identifier: str, captcha_passed: bool, client: common_pb2.ClientContext) -> str:
    """Rule 1: the reset id."""
    if deps.captcha_on and not captcha_passed:
        raise DomainError("captcha required", code="CAPTCHA_REQUIRED")
    identifier = identifier.strip()
    account = await store.account_by_login(deps.pool, identifier=identifier) if identifier else None
    reset_id = uuid.uuid4()
    await store.add_password_reset(deps.pool, reset_id=reset_id, account_id=account["id"] if account else None,
                                   expires_at=datetime.now(UTC) + RESET_LIFETIME)
    await deps.reset_codes.open(str(reset_id), keep_s=int(RESET_LIFETIME.total_seconds()), subject=lockout.subject_key(
        account_id=str(account["id"]) if account else None, identifier=identifier))
    if account is not None:
        deps.in_background(_send_code(deps, reset_id=reset_id, account=account, client=client))
    return str(reset_id)


async def _send_code(deps: Deps, *, reset_id: uuid.UUID, account: asyncpg.Record,
                     client: common_pb2.ClientContext) -> None:
    try:
        issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=_PURPOSE, flow_id=str(reset_id), channel=common_pb2.CHANNEL_SMS,
            destination=account["phone"], client_ip=client.client_ip, idempotency_key=str(reset_id),
            language=client.language))
        await store.set_reset_verification(deps.pool, reset_id=reset_id,
                                           verification_id=issued.verification.verification_id)
        if not await deps.reset_codes.sent(str(reset_id), lifetime_s=issued.verification.expires_in_s):
            log.warning("password_reset_code_too_late", extra={"reset_id": str(reset_id)})
    except Exception as error:  # noqa: BLE001 - the person asks again; the answer was already given
        log.warning("password_reset_code_not_sent", extra={"error": type(error).__name__})


async def resend(deps: Deps, *, reset_id: str, channel: common_pb2.Channel.ValueType,
                 client: common_pb2.ClientContext) -> None:
    """Rule 6."""
    canonical = accounts.canonical_id(reset_id)
    reset = await store.open_password_reset(deps.pool, reset_id=canonical) if canonical else None
    if reset is None or canonical is None:
        raise NotFound("no such password reset")
    if reset["account_id"] is None or reset["verification_id"] is None:
        return
    account = await accounts.by_id(deps.pool, account_id=str(reset["account_id"]))
    request = notify_pb2.ResendOtpRequest(verification_id=reset["verification_id"], purpose=_PURPOSE,
                                          flow_id=canonical, client_ip=client.client_ip)
    if channel == common_pb2.CHANNEL_EMAIL:
        if not (account["email"] and account["email_verified"]):
            return
        request.channel, request.destination = common_pb2.CHANNEL_EMAIL, account["email"]
    deps.in_background(_resend(deps, request))


async def _resend(deps: Deps, request: notify_pb2.ResendOtpRequest) -> None:
    try:
        await deps.notify.ResendOtp(request)
    except Exception as error:  # noqa: BLE001 - rule 6: the answer was already given
        log.warning("password_reset_code_not_resent", extra={"error": type(error).__name__})


async def complete(deps: Deps, *, reset_id: str, code: str, new_password: str) -> None:
    """Rules 2–5."""
    canonical = accounts.canonical_id(reset_id)
    reset = await store.open_password_reset(deps.pool, reset_id=canonical) if canonical else None
    if reset is None or canonical is None:
        raise NotFound("no such password reset")
    reset_id = canonical
    account = await accounts.by_id(deps.pool, account_id=str(reset["account_id"])) if reset["account_id"] else None
    subject = lockout.account_key(str(account["id"])) if account else await deps.reset_codes.subject(reset_id)
    if subject is None:  # the reset's state is gone (Redis lost it): no code can be checked
        raise NotFound("no such verification")
    via_notify = reset["verification_id"] is not None and await deps.reset_codes.via_notify(reset_id)
    await deps.reset_codes.count_wrong(subject)  # rule 3: counted before it is checked
    result, attempts_left = notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, 0
    try:
        if via_notify:
            reply = await deps.notify.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=reset["verification_id"], code=code, purpose=_PURPOSE, flow_id=reset_id))
            result, attempts_left = reply.result, reply.attempts_left
        else:
            result, attempts_left = await _check_kept(deps, reset_id=reset_id, code=code)
    finally:
        if result != notify_pb2.CHECK_OTP_RESULT_INVALID_CODE:  # a right code, or one never checked
            await deps.reset_codes.uncount_wrong(subject)
    refused = otp.refusal(result, attempts_left=attempts_left)
    if refused is not None:
        raise refused
    if account is None:  # never: only a code sent to an account is right
        raise NotFound("no such password reset")
    await _set_password(deps, reset=reset, account=account, code=code, new_password=new_password,
                        kept=not via_notify, attempts_left=attempts_left)


async def _check_kept(deps: Deps, *, reset_id: str, code: str) -> tuple[notify_pb2.CheckOtpResult.ValueType, int]:
    """Rule 3: a code checked against the reset's own state (the stand-in, or a kept code), with
    notify's results."""
    reserved = await deps.reset_codes.reserve(reset_id)
    if reserved.result == "not_found":
        raise NotFound("no such verification")
    if reserved.result != "reserved":
        return _RESULTS[reserved.result], reserved.attempts_left
    if reserved.code_hash and await deps.hasher.verify_async(reserved.code_hash, code):
        await deps.reset_codes.release(reset_id)
        return notify_pb2.CHECK_OTP_RESULT_APPROVED, reserved.attempts_left + 1
    return notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, reserved.attempts_left


async def _set_password(deps: Deps, *, reset: asyncpg.Record, account: asyncpg.Record, code: str,
                        new_password: str, kept: bool, attempts_left: int) -> None:
    """Rules 4–5, after a right code."""
    reasons = passwords.password_problems(new_password, nik=account["nik"], noka=account["noka"],
                                          birth_date=account["birth_date"])
    if reasons:
        if not kept:  # notify spent the code: keep it here, so it completes the reset with a strong password
            await deps.reset_codes.approve(str(reset["id"]), code_hash=await deps.hasher.hash_async(code),
                                           attempts_left=attempts_left)
        raise DomainError("password too weak", code="WEAK_PASSWORD", reasons=reasons)
    password_hash = await deps.hasher.hash_async(new_password)
    async with deps.pool.acquire() as conn, conn.transaction():
        revoked = await store.complete_password_reset(conn, reset_id=reset["id"], account_id=account["id"],
                                                      password_hash=password_hash)
        if revoked is None:
            raise NotFound("no such password reset")
        await events.tell(conn, events.password_changed(reset_id=reset["id"], phone=account["phone"]),
                          account_id=str(account["id"]))
    await deps.reset_codes.close(str(reset["id"]))
    for session_id in revoked:
        await revocation.revoke_session(deps.redis, session_id, access_ttl_s=tokens.ACCESS_TTL_S)
    log.info("password_reset_completed", extra={"account_id": str(account["id"]), "sessions_ended": len(revoked)})

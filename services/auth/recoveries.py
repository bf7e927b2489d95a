"""Account recovery when the old phone is gone (CONTRACT.md §7 "Account recovery"): identity →
a code to the verified email → a code by SMS to the new phone → the change waits out a
cooling-off period, announced at once, cancellable by the holder, then applied by a job.

- Rule 1: with the captcha on, a start without a passed captcha is refused first
  (CAPTCHA_REQUIRED); identifier, birth date and a new phone (``08…``/``+628…``) are required
  (422, the same for everyone). Otherwise a start always answers with a new recovery id,
  whether or not the identifier (NIK or NOKA) and birth date name an account with a
  *verified* email; for one that does, the code goes to that email after the answer (so not
  even the time taken tells the difference), exactly like a password reset (`resets` rule 1).
- Rule 2: a recovery's steps stay open for 1 hour; one that is unknown, expired, at another
  step or finished is "not found" — for an unknown identity exactly as for an account.
- Rule 3: the email code is checked like a password reset's: a recovery for no account (or
  whose code was not sent yet) is checked against auth's stand-in verification
  (`reset_codes` rules 1–2: OTP_INVALID with attempts_left 4…0, then OTP_ATTEMPTS_EXCEEDED,
  expired after its lifetime); every guess counts, before it is checked, towards the
  recovery cap of the account (or identity): 20 wrong codes in 24 h (`reset_codes` rule 5, a
  cap of its own, apart from password resets').
- Rule 4: the right email code sends a code by SMS to the new phone (notify's caps and
  cooldowns for that number apply). The right SMS code schedules the change for now +
  ``JKN_AUTH_RECOVERY_DELAY_S`` (24 h) and, in the same transaction, tells the old phone and
  the email, with how to stop it. An account has at most one scheduled recovery: another one
  is refused at that step (409 RECOVERY_PENDING).
- Rule 5: the logged-in holder sees the scheduled recoveries and can cancel one (then it never
  applies); another person's, or one no longer scheduled, is "not found".
- Rule 6: at ``effective_at`` the job (`apply_due`) replaces the phone, ends every session of
  the account (their access tokens are refused at once) and tells the new phone, once per
  recovery, whichever replica runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.auth import accounts, events, lockout, metrics, store, tokens
from services.auth.deps import Deps
from services.contracts import otp, revocation
from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, NotFound, ValidationFailed
from services.kit.logs import get_logger
from services.kit.validation import require

log = get_logger("jkn.auth.recoveries")
#: Rule 2.
RECOVERY_LIFETIME = timedelta(hours=1)
_EMAIL_PURPOSE = notify_pb2.OTP_PURPOSE_RECOVERY_EMAIL
_PHONE_PURPOSE = notify_pb2.OTP_PURPOSE_RECOVERY_PHONE
_RESULTS = {"invalid": notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, "expired": notify_pb2.CHECK_OTP_RESULT_EXPIRED,
            "max_attempts_reached": notify_pb2.CHECK_OTP_RESULT_MAX_ATTEMPTS_REACHED,
            "not_pending": notify_pb2.CHECK_OTP_RESULT_NOT_PENDING}


def cap_subject(subject: str) -> str:
    """Rule 3: the recovery cap's subject, apart from the password-reset cap of the same account."""
    return f"recovery:{subject}"


def identity_matches(account: asyncpg.Record | None, *, birth_date: date) -> bool:
    """Rule 1: the account exists, was born on ``birth_date`` and has a verified email."""
    return (account is not None and account["birth_date"] == birth_date and bool(account["email"])
            and bool(account["email_verified"]))


async def start(deps: Deps, *, identifier: str, birth_date: str, new_phone: str, captcha_passed: bool,
                client: common_pb2.ClientContext) -> str:
    """Rule 1: the recovery id."""
    if deps.captcha_on and not captcha_passed:
        raise DomainError("captcha required", code="CAPTCHA_REQUIRED")
    require({"identifier": identifier, "birth_date": birth_date, "new_phone": new_phone})
    phone = normalize_phone(new_phone)
    if phone is None:
        raise ValidationFailed([{"field": "new_phone", "code": "invalid", "message": "08… or +628…"}])
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        raise ValidationFailed([{"field": "birth_date", "code": "invalid", "message": "YYYY-MM-DD"}]) from None
    identifier = identifier.strip()
    found = await store.account_by_login(deps.pool, identifier=identifier)
    account = found if identity_matches(found, birth_date=born) else None
    recovery_id = uuid.uuid4()
    await store.add_recovery(deps.pool, recovery_id=recovery_id, account_id=account["id"] if account else None,
                             new_phone=phone, expires_at=datetime.now(UTC) + RECOVERY_LIFETIME)
    subject = lockout.subject_key(account_id=str(account["id"]) if account else None,
                                  identifier=f"{identifier}|{born.isoformat()}")
    await deps.reset_codes.open(str(recovery_id), keep_s=int(RECOVERY_LIFETIME.total_seconds()),
                                subject=cap_subject(subject))
    if account is not None:
        deps.in_background(_send_email_code(deps, recovery_id=recovery_id, account=account, client=client))
    metrics.RECOVERIES.labels("started").inc()
    log.info("account_recovery_started", extra={"recovery_id": str(recovery_id)})
    return str(recovery_id)


async def _send_email_code(deps: Deps, *, recovery_id: uuid.UUID, account: asyncpg.Record,
                           client: common_pb2.ClientContext) -> None:
    try:
        issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=_EMAIL_PURPOSE, flow_id=str(recovery_id), channel=common_pb2.CHANNEL_EMAIL,
            destination=account["email"], client_ip=client.client_ip, idempotency_key=f"{recovery_id}:email",
            language=client.language))
        await store.set_recovery_email_verification(deps.pool, recovery_id=recovery_id,
                                                    verification_id=issued.verification.verification_id)
        if not await deps.reset_codes.sent(str(recovery_id), lifetime_s=issued.verification.expires_in_s):
            log.warning("account_recovery_code_too_late", extra={"recovery_id": str(recovery_id)})
    except Exception as error:  # noqa: BLE001 - the person asks again; the answer was already given
        log.warning("account_recovery_code_not_sent", extra={"error": type(error).__name__})


async def _open(deps: Deps, recovery_id: str, status: str) -> tuple[str, asyncpg.Record]:
    """Rule 2."""
    canonical = accounts.canonical_id(recovery_id)
    recovery = await store.open_recovery(deps.pool, recovery_id=canonical, status=status) if canonical else None
    if recovery is None or canonical is None:
        raise NotFound("no such account recovery")
    return canonical, recovery


async def verify_email(deps: Deps, *, recovery_id: str, code: str, client: common_pb2.ClientContext) -> None:
    """Rules 2–4 (the first code)."""
    recovery_id, recovery = await _open(deps, recovery_id, "EMAIL_PENDING")
    account = await accounts.by_id(deps.pool, account_id=str(recovery["account_id"])) \
        if recovery["account_id"] else None
    subject = await deps.reset_codes.subject(recovery_id)
    if subject is None:  # the recovery's state is gone (Redis lost it): no code can be checked
        raise NotFound("no such verification")
    via_notify = recovery["email_verification_id"] is not None and await deps.reset_codes.via_notify(recovery_id)
    await deps.reset_codes.count_wrong(subject)  # rule 3: counted before it is checked
    result, attempts_left = notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, 0
    try:
        if via_notify:
            reply = await deps.notify.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=recovery["email_verification_id"], code=code, purpose=_EMAIL_PURPOSE,
                flow_id=recovery_id))
            result, attempts_left = reply.result, reply.attempts_left
        else:
            reserved = await deps.reset_codes.reserve(recovery_id)  # the stand-in: no code is right
            if reserved.result == "not_found":
                raise NotFound("no such verification")
            result, attempts_left = _RESULTS["invalid" if reserved.result == "reserved" else reserved.result], \
                reserved.attempts_left
    finally:
        if result != notify_pb2.CHECK_OTP_RESULT_INVALID_CODE:  # a right code, or one never checked
            await deps.reset_codes.uncount_wrong(subject)
    refused = otp.refusal(result, attempts_left=attempts_left)
    if refused is not None:
        raise refused
    if account is None:  # never: only a code sent to an account is right
        raise NotFound("no such account recovery")
    issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
        purpose=_PHONE_PURPOSE, flow_id=recovery_id, channel=common_pb2.CHANNEL_SMS,
        destination=recovery["new_phone"], client_ip=client.client_ip, idempotency_key=f"{recovery_id}:phone",
        language=client.language))
    if not await store.recovery_email_verified(deps.pool, recovery_id=recovery["id"],
                                               phone_verification_id=issued.verification.verification_id):
        raise NotFound("no such account recovery")
    await deps.reset_codes.close(recovery_id)
    log.info("account_recovery_email_verified", extra={"recovery_id": recovery_id})


async def verify_phone(deps: Deps, *, recovery_id: str, code: str) -> datetime:
    """Rule 4 (the second code): when the new phone takes effect."""
    recovery_id, recovery = await _open(deps, recovery_id, "PHONE_PENDING")
    await otp.check_or_raise(deps.notify, verification_id=recovery["phone_verification_id"], code=code,
                             purpose=_PHONE_PURPOSE, flow_id=recovery_id)
    account = await accounts.by_id(deps.pool, account_id=str(recovery["account_id"]))
    effective_at = datetime.now(UTC) + timedelta(seconds=deps.recovery_delay_s)
    async with deps.pool.acquire() as conn, conn.transaction():
        try:
            scheduled = await store.schedule_recovery(conn, recovery_id=recovery["id"], effective_at=effective_at)
        except store.RecoveryPending:
            raise DomainError("a recovery is pending already", code="RECOVERY_PENDING") from None
        if not scheduled:
            raise NotFound("no such account recovery")
        for notice in events.recovery_scheduled(recovery_id=recovery["id"], old_phone=account["phone"],
                                                email=account["email"], new_phone=recovery["new_phone"],
                                                effective_at=effective_at):
            await events.tell(conn, notice, account_id=str(account["id"]))
    metrics.RECOVERIES.labels("scheduled").inc()
    log.info("account_recovery_scheduled", extra={"recovery_id": recovery_id, "account_id": str(account["id"])})
    return effective_at


async def pending(deps: Deps, *, account_id: str) -> list[asyncpg.Record]:
    """Rule 5."""
    if accounts.canonical_id(account_id) is None:
        return []
    return await store.pending_recoveries(deps.pool, account_id=account_id)


async def cancel(deps: Deps, *, account_id: str, recovery_id: str) -> None:
    """Rule 5."""
    canonical = accounts.canonical_id(recovery_id)
    if canonical is None or accounts.canonical_id(account_id) is None \
            or not await store.cancel_recovery(deps.pool, account_id=account_id, recovery_id=canonical):
        raise NotFound("no such account recovery")
    metrics.RECOVERIES.labels("cancelled").inc()
    log.info("account_recovery_cancelled", extra={"recovery_id": canonical})


def apply_due(deps: Deps) -> Callable[[asyncpg.Pool, datetime], Awaitable[int]]:
    """Rule 6: the periodic job (`kit.jobs.run_periodically`)."""

    async def apply_account_recoveries(pool: asyncpg.Pool, now: datetime) -> int:
        applied = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                due = await store.due_recoveries(conn, now=now, limit=50)
                revoked: list[str] = []
                for recovery in due:
                    revoked += await store.apply_recovery(conn, recovery_id=recovery["id"],
                                                          account_id=recovery["account_id"],
                                                          new_phone=recovery["new_phone"])
                    await events.tell(conn, events.recovered(recovery_id=recovery["id"],
                                                             new_phone=recovery["new_phone"], at=now),
                                      account_id=str(recovery["account_id"]))
            for session_id in revoked:
                await revocation.revoke_session(deps.redis, session_id, access_ttl_s=tokens.ACCESS_TTL_S)
            for recovery in due:
                log.info("account_recovery_applied", extra={"recovery_id": str(recovery["id"]),
                                                            "account_id": str(recovery["account_id"])})
            metrics.RECOVERIES.labels("applied").inc(len(due))
            applied += len(due)
            if len(due) < 50:
                return applied

    return apply_account_recoveries

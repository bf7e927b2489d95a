"""Activation of an account for an existing participant, and the verification of its email
(CONTRACT.md §4 "Account activation"): the order of the checks, the codes, the account.

- Rule 1: with the captcha on, a registration without a passed captcha is refused first
  (CAPTCHA_REQUIRED); then identifier, birth date, phone and password are required (422).
- Rule 2: the identifier (NIK or NOKA) and the birth date must match one participant in
  membership (422 IDENTITY_MISMATCH, which does not say which part is wrong); a participant who
  has an account is refused (409 ALREADY_REGISTERED); an email (kept in lower case) that another
  account has, verified or not, is refused (409 EMAIL_IN_USE); then the password rules apply
  (422 WEAK_PASSWORD, `passwords`). Only then is a code sent, by SMS, to the phone given.
- Rule 3: a registration stays pending for 1 hour; its code can be resent (the same code, on
  notify's cooldowns and limits), by SMS again or, when an email was given, to that email (the
  fallback for an SMS that cannot be delivered; notify's caps apply to the email as a
  destination of its own). Without an email, asking for the email channel is a 422. Its state
  and the delivery status of its latest send can be read (`get`) until it expires.
- Rule 4: the right code creates the account; a wrong, expired or exhausted code answers as
  `contracts.otp` says. A participant or an email that got an account since the start is
  refused (409 ALREADY_REGISTERED, 409 EMAIL_IN_USE) before the code is checked, so the code is
  not spent on it; one that got it in the instant between the check and the account (a race
  the unique columns catch) gets the same refusal, and nothing is written: the registration
  stays pending, never "completed" without an account.
- Rule 5: after activation, when an email was given, a code goes to it; that code confirms the
  email (``email_verified``); with none pending, verifying is "not found". The activation
  succeeds even if that code cannot be sent (logged): `resend_email_code` sends it later.
- Rule 6: a lost email code can be sent again: the same code while it is valid (notify's
  cooldown and caps apply), a fresh one once it expired or was spent on wrong guesses; an
  account with no unverified email has nothing to resend ("not found").
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2
from jkn.notify.v1 import notify_pb2
from services.auth import accounts, passwords, store
from services.auth.deps import Deps
from services.contracts import otp
from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, NotFound, ValidationFailed, decode_rpc_error
from services.kit.logs import get_logger
from services.kit.validation import require

log = get_logger("jkn.auth.registration")
#: Rule 3.
REGISTRATION_LIFETIME = timedelta(hours=1)


async def start(deps: Deps, *, identifier: str, birth_date: str, phone: str, email: str, password: str,
                captcha_passed: bool, client: common_pb2.ClientContext) -> tuple[str, common_pb2.OtpChallenge]:
    """Rules 1–3: the registration id and where its code went."""
    if deps.captcha_on and not captcha_passed:
        raise DomainError("captcha required", code="CAPTCHA_REQUIRED")
    require({"identifier": identifier, "birth_date": birth_date, "phone": phone, "password": password})
    match = await deps.membership.MatchIdentity(membership_pb2.MatchIdentityRequest(
        identifier=identifier.strip(), birth_date=birth_date))
    if not match.matched:
        raise DomainError("identity does not match", code="IDENTITY_MISMATCH")
    if await store.participant_has_account(deps.pool, noka=match.noka):
        raise _taken("participant")
    email = email.strip().lower()
    if email and await store.contact_in_use(deps.pool, kind="email", value=email):
        raise _taken("email")
    born = date.fromisoformat(birth_date)
    passwords.require_strong(password, nik=match.nik, noka=match.noka, birth_date=born)
    participant = (await deps.membership.GetParticipant(
        membership_pb2.GetParticipantRequest(noka=match.noka))).participant
    registration_id = uuid.uuid4()
    issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
        purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=str(registration_id), channel=common_pb2.CHANNEL_SMS,
        destination=phone, client_ip=client.client_ip, idempotency_key=str(registration_id),
        language=client.language))
    await store.add_registration(
        deps.pool, registration_id=registration_id, participant_id=match.participant_id, noka=match.noka,
        nik=match.nik, name=participant.name, birth_date=born, phone=normalize_phone(phone) or phone,
        email=email or None, password_hash=await deps.hasher.hash_async(password),
        verification_id=issued.verification.verification_id, expires_at=datetime.now(UTC) + REGISTRATION_LIFETIME)
    log.info("registration_started", extra={"registration_id": str(registration_id)})
    return str(registration_id), otp.challenge(issued.verification, channels(email or None))


def channels(email: str | None) -> tuple[common_pb2.Channel.ValueType, ...]:
    """Rule 3: where a registration's code may go: SMS, and the email when one was given."""
    return (common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL) if email else (common_pb2.CHANNEL_SMS,)


async def resend(deps: Deps, *, registration_id: str, client: common_pb2.ClientContext,
                 channel: common_pb2.Channel.ValueType = common_pb2.CHANNEL_UNSPECIFIED) -> common_pb2.OtpChallenge:
    """Rule 3."""
    registration = await _pending(deps, registration_id)
    request = notify_pb2.ResendOtpRequest(
        verification_id=registration["verification_id"], purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
        flow_id=str(registration["id"]), client_ip=client.client_ip)
    if channel == common_pb2.CHANNEL_EMAIL:
        if not registration["email"]:
            raise ValidationFailed([{"field": "channel", "code": "unavailable",
                                     "message": "no email was given for this registration"}])
        request.channel, request.destination = common_pb2.CHANNEL_EMAIL, registration["email"]
    elif channel == common_pb2.CHANNEL_SMS:
        request.channel, request.destination = common_pb2.CHANNEL_SMS, registration["phone"]
    resent = await deps.notify.ResendOtp(request)
    return otp.challenge(resent.verification, channels(registration["email"]))


async def get(deps: Deps, *, registration_id: str) -> tuple[str, str, common_pb2.OtpChallenge | None]:
    """Rule 3: the registration's id, its status and its code's state (None once notify forgot it)."""
    canonical = accounts.canonical_id(registration_id)
    registration = await store.registration_by_id(deps.pool, registration_id=canonical) if canonical else None
    if registration is None:
        raise NotFound("no such registration")
    status = registration["status"]
    if status == "PENDING_VERIFICATION" and registration["expires_at"] <= datetime.now(UTC):
        status = "EXPIRED"
    try:
        got = await deps.notify.GetOtp(notify_pb2.GetOtpRequest(verification_id=registration["verification_id"]))
    except grpc.aio.AioRpcError as error:
        if decode_rpc_error(error).code != "NOT_FOUND":
            raise
        return str(registration["id"]), status, None
    if status == "PENDING_VERIFICATION" and got.verification.status in (
            notify_pb2.VERIFICATION_STATUS_EXPIRED, notify_pb2.VERIFICATION_STATUS_MAX_ATTEMPTS_REACHED):
        status = "EXPIRED"
    return str(registration["id"]), status, otp.challenge(got.verification, channels(registration["email"]))


async def verify(deps: Deps, *, registration_id: str, code: str, client: common_pb2.ClientContext) -> str:
    """Rules 4–5: the new account's id."""
    registration = await _pending(deps, registration_id)
    if await store.participant_has_account(deps.pool, noka=registration["noka"]):
        raise _taken("participant")
    if registration["email"] and await store.contact_in_use(deps.pool, kind="email", value=registration["email"]):
        raise _taken("email")
    await otp.check_or_raise(deps.notify, verification_id=registration["verification_id"], code=code,
                             purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=str(registration["id"]))
    try:
        async with deps.pool.acquire() as conn, conn.transaction():
            account_id = await store.create_account(conn, registration=registration)
    except store.Taken as taken:
        raise _taken(taken.what) from None
    log.info("account_activated", extra={"account_id": account_id})
    if registration["email"]:
        try:
            await _send_email_code(deps, account_id=account_id, email=registration["email"], client=client)
        except Exception as error:  # noqa: BLE001 - the account exists; the code can be resent (rule 6)
            log.warning("email_code_not_sent", extra={"account_id": account_id, "error": type(error).__name__})
    return account_id


def _taken(what: str) -> DomainError:
    """Rules 2 and 4: what a taken participant or email answers."""
    if what == "email":
        return DomainError("email in use", code="EMAIL_IN_USE")
    return DomainError("already registered", code="ALREADY_REGISTERED")


async def _send_email_code(deps: Deps, *, account_id: str, email: str, client: common_pb2.ClientContext,
                           idempotency_key: str | None = None) -> common_pb2.OtpChallenge:
    """Rules 5–6: the code that confirms the email, pending on the account."""
    issued = await deps.notify.IssueOtp(notify_pb2.IssueOtpRequest(
        purpose=notify_pb2.OTP_PURPOSE_EMAIL_VERIFICATION, flow_id=account_id, channel=common_pb2.CHANNEL_EMAIL,
        destination=email, client_ip=client.client_ip, idempotency_key=idempotency_key or account_id,
        language=client.language))
    await store.set_email_verification(deps.pool, account_id=account_id,
                                       verification_id=issued.verification.verification_id)
    return otp.challenge(issued.verification)


async def resend_email_code(deps: Deps, *, account_id: str,
                            client: common_pb2.ClientContext) -> common_pb2.OtpChallenge:
    """Rule 6: where the code went."""
    account = await accounts.by_id(deps.pool, account_id=account_id)
    account_id = str(account["id"])
    if account["email_verified"] or not account["email"]:
        raise NotFound("no email verification pending")
    if account["email_verification_id"]:
        try:
            resent = await deps.notify.ResendOtp(notify_pb2.ResendOtpRequest(
                verification_id=account["email_verification_id"], purpose=notify_pb2.OTP_PURPOSE_EMAIL_VERIFICATION,
                flow_id=account_id, client_ip=client.client_ip))
            return otp.challenge(resent.verification)
        except grpc.aio.AioRpcError as error:
            if decode_rpc_error(error).code not in ("OTP_EXPIRED", "OTP_ATTEMPTS_EXCEEDED", "NOT_FOUND"):
                raise
    return await _send_email_code(deps, account_id=account_id, email=account["email"], client=client,
                                  idempotency_key=f"{account_id}:{uuid.uuid4()}")


async def verify_email(deps: Deps, *, account_id: str, code: str) -> None:
    """Rule 5."""
    account = await accounts.by_id(deps.pool, account_id=account_id)
    if account["email_verified"] or not account["email_verification_id"]:
        raise NotFound("no email verification pending")
    await otp.check_or_raise(deps.notify, verification_id=account["email_verification_id"], code=code,
                             purpose=notify_pb2.OTP_PURPOSE_EMAIL_VERIFICATION, flow_id=str(account["id"]))
    await store.mark_email_verified(deps.pool, account_id=account["id"])


async def _pending(deps: Deps, registration_id: str) -> asyncpg.Record:
    """A pending, unexpired registration; any other id is "not found"."""
    canonical = accounts.canonical_id(registration_id)
    registration = await store.pending_registration(deps.pool, registration_id=canonical) if canonical else None
    if registration is None:
        raise NotFound("no such registration")
    return registration

"""Auth's gRPC servicer: thin translation to the rules, the store and the peer services."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import jwt
from google.protobuf.timestamp_pb2 import Timestamp
from redis.asyncio import Redis

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.auth import passwords, store, tokens
from services.auth.lockout import Lockout
from services.auth.pin_lock import MAX_WRONG as MAX_WRONG_PINS
from services.auth.pin_lock import PinLock
from services.contracts import otp, revocation
from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, NotFound, Unauthenticated, ValidationFailed
from services.kit.ids import is_uuid
from services.kit.logs import get_logger
from services.kit.masking import mask_email, mask_phone
from services.kit.outbox import add_event
from services.kit.signing import SigningKey, jwks_message_fields

log = get_logger("jkn.auth")
REGISTRATION_LIFETIME = timedelta(hours=1)
JAKARTA = ZoneInfo("Asia/Jakarta")
CAPTCHA_AFTER_FAILURES = 3
REFRESH_LIFETIME = timedelta(days=30)


def _required(**fields: str) -> None:
    errors = [{"field": k, "code": "required", "message": f"{k} is required"} for k, v in fields.items() if not v]
    if errors:
        raise ValidationFailed(errors)


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, *, pool: asyncpg.Pool, redis: Redis, hasher: passwords.Hasher, signing_keys: list[SigningKey],
                 jwks_max_age_s: int, membership: membership_pb2_grpc.MembershipServiceStub,
                 notify: notify_pb2_grpc.NotifyServiceStub, captcha_on: bool = True):
        self.pool, self.redis, self.hasher = pool, redis, hasher
        self.lockout = Lockout(redis)
        self.captcha_on = captcha_on
        self.pin_lock = PinLock(redis)
        self._background: set[asyncio.Task] = set()
        self.signing_keys, self.jwks_max_age_s = signing_keys, jwks_max_age_s
        self.membership, self.notify = membership, notify

    # -- activation of an existing participant --------------------------------------------
    async def StartRegistration(self, request, context):
        if self.captcha_on and not request.captcha_passed:
            raise DomainError("captcha required", code="CAPTCHA_REQUIRED")
        _required(identifier=request.identifier, birth_date=request.birth_date, phone=request.phone,
                  password=request.password)
        match = await self.membership.MatchIdentity(membership_pb2.MatchIdentityRequest(
            identifier=request.identifier.strip(), birth_date=request.birth_date))
        if not match.matched:
            raise DomainError("identity does not match", code="IDENTITY_MISMATCH")
        if await store.participant_has_account(self.pool, match.noka):
            raise DomainError("already registered", code="ALREADY_REGISTERED")
        born = date.fromisoformat(request.birth_date)
        passwords.require_strong(request.password, nik=match.nik, noka=match.noka, birth_date=born)
        participant = (await self.membership.GetParticipant(
            membership_pb2.GetParticipantRequest(noka=match.noka))).participant
        registration_id = uuid.uuid4()
        issued = await self.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=str(registration_id),
            channel=common_pb2.CHANNEL_SMS, destination=request.phone, client_ip=request.client.client_ip,
            idempotency_key=str(registration_id), language=request.client.language))
        await store.add_registration(
            self.pool, registration_id=registration_id, participant_id=match.participant_id, noka=match.noka,
            nik=match.nik, name=participant.name, birth_date=born,
            phone=normalize_phone(request.phone) or request.phone, email=request.email.strip().lower() or None,
            password_hash=await self.hasher.hash_async(request.password),
            verification_id=issued.verification.verification_id,
            expires_at=datetime.now(UTC) + REGISTRATION_LIFETIME)
        log.info("registration_started", extra={"registration_id": str(registration_id)})
        return auth_pb2.StartRegistrationResponse(
            registration_id=str(registration_id), status=auth_pb2.REGISTRATION_STATUS_PENDING_VERIFICATION,
            otp=otp.challenge(issued.verification))

    async def ResendRegistrationOtp(self, request, context):
        registration = await self._registration(request.registration_id)
        resent = await self.notify.ResendOtp(notify_pb2.ResendOtpRequest(
            verification_id=registration["verification_id"], purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
            flow_id=request.registration_id, client_ip=request.client.client_ip))
        return auth_pb2.ResendRegistrationOtpResponse(otp=otp.challenge(resent.verification))

    async def VerifyRegistration(self, request, context):
        registration = await self._registration(request.registration_id)
        await otp.check_or_raise(self.notify, verification_id=registration["verification_id"],
                                           code=request.code, purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
                                           flow_id=request.registration_id)
        async with self.pool.acquire() as conn, conn.transaction():
            account_id = await store.create_account(conn, registration)
        if account_id is None:
            raise DomainError("already registered", code="ALREADY_REGISTERED")
        if registration["email"]:
            issued = await self.notify.IssueOtp(notify_pb2.IssueOtpRequest(
                purpose=notify_pb2.OTP_PURPOSE_EMAIL_VERIFICATION, flow_id=account_id, channel=common_pb2.CHANNEL_EMAIL,
                destination=registration["email"], client_ip=request.client.client_ip, idempotency_key=account_id))
            await self.pool.execute("UPDATE accounts SET email_verification_id = $2 WHERE id = $1::uuid", account_id,
                                    issued.verification.verification_id)
        log.info("account_activated", extra={"account_id": account_id})
        return auth_pb2.VerifyRegistrationResponse(account_id=account_id)

    async def _registration(self, registration_id: str) -> asyncpg.Record:
        registration = await store.pending_registration(self.pool, registration_id) if is_uuid(registration_id) \
            else None
        if registration is None:
            raise NotFound("no such registration")
        return registration

    # -- sessions -------------------------------------------------------------------------
    async def Login(self, request, context):
        """Generic INVALID_CREDENTIALS for unknown identifiers and wrong passwords alike (same work)."""
        identifier = request.identifier.strip()
        await self.lockout.check(identifier)
        if (self.captcha_on and not request.captcha_passed
                and await self.lockout.recent_failures(identifier) >= CAPTCHA_AFTER_FAILURES):
            raise DomainError("captcha required", code="CAPTCHA_REQUIRED")
        account = await store.account_by_login(self.pool, identifier) if identifier else None
        ok = await self.hasher.verify_async(account["password_hash"] if account else None, request.password)
        if not ok or account is None:
            await self.lockout.failed(identifier)
            raise DomainError("invalid credentials", code="INVALID_CREDENTIALS")
        await self.lockout.succeeded(identifier)
        if self.hasher.needs_rehash(account["password_hash"]):
            await self.pool.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", account["id"],
                                    await self.hasher.hash_async(request.password))
        refresh, refresh_hash = tokens.new_refresh_token()
        device = (request.client.device_id or request.client.user_agent)[:200]
        async with self.pool.acquire() as conn, conn.transaction():
            known_device = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE account_id = $1 AND device = $2)", account["id"], device)
            session_id = await store.open_session(conn, account_id=account["id"], device=device,
                                                  token_hash=refresh_hash,
                                                  expires_at=datetime.now(UTC) + REFRESH_LIFETIME)
            if not known_device:
                await add_event(conn, topic="notify.requests", event_type="notification", key=str(account["id"]),
                                payload=notify_pb2.NotificationRequest(
                                    request_id=f"new-device:{session_id}", source="auth",
                                    template=notify_pb2.NOTIFICATION_TEMPLATE_NEW_DEVICE_LOGIN,
                                    channel=common_pb2.CHANNEL_SMS, to=account["phone"],
                                    language=common_pb2.LANGUAGE_ID,
                                    params={"device": (device or "perangkat tidak dikenal")[:60],
                                            "at": datetime.now(UTC).astimezone(JAKARTA).strftime("%d-%m-%Y %H:%M WIB")},
                                ).SerializeToString())
        log.info("login_succeeded", extra={"account_id": str(account["id"]), "session_id": session_id})
        return auth_pb2.LoginResponse(tokens=self._pair(str(account["id"]), session_id, refresh,
                                                                         account["noka"]))

    async def RefreshSession(self, request, context):
        """Tokens rules 2–3: rotate on every use; an old token replayed after the grace kills the session."""
        presented = tokens.refresh_hash(request.refresh_token)
        refresh, refresh_hash = tokens.new_refresh_token()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await store.refresh_token_for_update(conn, presented)
            valid = row is not None and row["revoked_at"] is None and row["expires_at"] > datetime.now(UTC)
            if valid and row["rotated_at"] is None:
                await store.rotate(conn, old_hash=presented, session_id=row["session_id"], new_hash=refresh_hash,
                                   expires_at=datetime.now(UTC) + REFRESH_LIFETIME)
        if not valid:
            raise Unauthenticated("refresh token not valid")
        if row["rotated_at"] is not None:  # committed separately: the refusal must not undo the revocation
            if tokens.is_theft(rotated_at_s=row["rotated_at"].timestamp(), now_s=time.time()):
                await store.revoke_session(self.pool, row["session_id"])
                await revocation.revoke_session(self.redis, str(row["session_id"]), access_ttl_s=tokens.ACCESS_TTL_S)
                log.warning("refresh_token_reused", extra={"session_id": str(row["session_id"])})
            raise Unauthenticated("refresh token already used")
        return auth_pb2.RefreshSessionResponse(tokens=self._pair(str(row["account_id"]), str(row["session_id"]),
                                                                 refresh, row["noka"]))

    async def Logout(self, request, context):
        """The session ends and its access tokens stop working at once."""
        claims = self._claims(request.access_token)
        await store.revoke_session(self.pool, claims["sid"])
        await revocation.revoke_session(self.redis, claims["sid"], access_ttl_s=tokens.ACCESS_TTL_S)
        await revocation.revoke_token(self.redis, claims["jti"], int(claims["exp"] - time.time()))
        return auth_pb2.LogoutResponse()

    async def ListSessions(self, request, context):
        """The account's active sessions (devices), newest first; the caller's marked current."""
        rows = await self.pool.fetch(
            "SELECT id, device, created_at, last_seen FROM sessions WHERE account_id = $1::uuid AND revoked_at IS NULL"
            " ORDER BY last_seen DESC", request.account_id)
        sessions = []
        for row in rows:
            created, used = Timestamp(), Timestamp()
            created.FromDatetime(row["created_at"])
            used.FromDatetime(row["last_seen"])
            sessions.append(auth_pb2.Session(session_id=str(row["id"]), user_agent=row["device"], created_at=created,
                                             last_used_at=used, current=str(row["id"]) == request.session_id))
        return auth_pb2.ListSessionsResponse(sessions=sessions)

    async def RevokeSession(self, request, context):
        """End one of my sessions (another person's session is "not found")."""
        ended = None
        if is_uuid(request.session_id) and is_uuid(request.account_id):
            ended = await self.pool.fetchval(
                "UPDATE sessions SET revoked_at = now() WHERE id = $1::uuid AND account_id = $2::uuid"
                " AND revoked_at IS NULL RETURNING id", request.session_id, request.account_id)
        if ended is None:
            raise NotFound("no such session")
        await revocation.revoke_session(self.redis, request.session_id, access_ttl_s=tokens.ACCESS_TTL_S)
        return auth_pb2.RevokeSessionResponse()

    def _claims(self, token: str) -> dict:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(k for k in self.signing_keys if k.kid == kid)
            return jwt.decode(token, key.private_key.public_key(), algorithms=["EdDSA"],
                              options={"require": ["exp", "sub", "sid", "jti"]})
        except (jwt.PyJWTError, StopIteration) as error:
            raise Unauthenticated("invalid access token") from error

    def _pair(self, account_id: str, session_id: str, refresh: str, noka: str) -> auth_pb2.TokenPair:
        access, _jti, _exp = tokens.access_token(self.signing_keys[0], account_id=account_id, session_id=session_id,
                                                 noka=noka)
        return auth_pb2.TokenPair(access_token=access, refresh_token=refresh, token_type="Bearer",
                                  expires_in_s=tokens.ACCESS_TTL_S, session_id=session_id, account_id=account_id)

    # -- password reset ---------------------------------------------------------------------
    async def StartPasswordReset(self, request, context):
        """Always the same 202 answer with a reset id, whether or not the identifier exists; the code
        is sent after the answer, so not even the time taken tells the difference."""
        identifier = request.identifier.strip()
        account = await store.account_by_login(self.pool, identifier) if identifier else None
        reset_id = uuid.uuid4()
        await store.add_password_reset(self.pool, reset_id=reset_id, account_id=account["id"] if account else None,
                                       expires_at=datetime.now(UTC) + REGISTRATION_LIFETIME)
        if account is not None:
            task = asyncio.create_task(self._send_reset_code(reset_id, account, request.client))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return auth_pb2.StartPasswordResetResponse(reset_id=str(reset_id))

    async def _send_reset_code(self, reset_id, account: asyncpg.Record, client: common_pb2.ClientContext) -> None:
        try:
            issued = await self.notify.IssueOtp(notify_pb2.IssueOtpRequest(
                purpose=notify_pb2.OTP_PURPOSE_PASSWORD_RESET, flow_id=str(reset_id), channel=common_pb2.CHANNEL_SMS,
                destination=account["phone"], client_ip=client.client_ip, idempotency_key=str(reset_id),
                language=client.language))
            await store.set_reset_verification(self.pool, reset_id, issued.verification.verification_id)
        except Exception as error:  # noqa: BLE001 - the person asks again; the answer was already given
            log.warning("password_reset_code_not_sent", extra={"error": type(error).__name__})

    async def CompletePasswordReset(self, request, context):
        """The right code sets the new password and ends every session of the account."""
        reset = await store.open_password_reset(self.pool, request.reset_id) if is_uuid(request.reset_id) else None
        if reset is None:
            raise NotFound("no such password reset")
        account = await store.account_by_id(self.pool, str(reset["account_id"]))
        passwords.require_strong(request.new_password, nik=account["nik"], noka=account["noka"],
                                 birth_date=account["birth_date"])  # before the code, which is single use
        await otp.check_or_raise(self.notify, verification_id=reset["verification_id"], code=request.code,
                                           purpose=notify_pb2.OTP_PURPOSE_PASSWORD_RESET, flow_id=request.reset_id)
        password_hash = await self.hasher.hash_async(request.new_password)
        async with self.pool.acquire() as conn, conn.transaction():
            revoked = await store.complete_password_reset(conn, reset_id=reset["id"], account_id=account["id"],
                                                          password_hash=password_hash)
            await add_event(conn, topic="notify.requests", event_type="notification", key=str(account["id"]),
                            payload=notify_pb2.NotificationRequest(
                                request_id=f"password-changed:{reset['id']}", source="auth",
                                template=notify_pb2.NOTIFICATION_TEMPLATE_PASSWORD_CHANGED,
                                channel=common_pb2.CHANNEL_SMS, to=account["phone"],
                                language=common_pb2.LANGUAGE_ID).SerializeToString())
        for session_id in revoked:
            await revocation.revoke_session(self.redis, session_id, access_ttl_s=tokens.ACCESS_TTL_S)
        log.info("password_reset_completed", extra={"account_id": str(account["id"]), "sessions_ended": len(revoked)})
        return auth_pb2.CompletePasswordResetResponse()

    # -- PIN and email ----------------------------------------------------------------------
    async def SetPin(self, request, context):
        """The password confirms the person; the PIN must not be weak; a notice goes out."""
        account = await self._account(request.account_id)
        if not await self.hasher.verify_async(account["password_hash"], request.password):
            raise DomainError("invalid credentials", code="INVALID_CREDENTIALS")
        reasons = passwords.pin_problems(request.pin)
        if reasons:
            raise DomainError("PIN too weak", code="WEAK_PIN", reasons=reasons)
        pin_hash = await self.hasher.hash_async(request.pin)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE accounts SET pin_hash = $2 WHERE id = $1", account["id"], pin_hash)
            if account["pin_hash"] is not None:
                await add_event(conn, topic="notify.requests", event_type="notification", key=str(account["id"]),
                                payload=notify_pb2.NotificationRequest(
                                    request_id=f"pin-changed:{uuid.uuid4()}", source="auth",
                                    template=notify_pb2.NOTIFICATION_TEMPLATE_PIN_CHANGED,
                                    channel=common_pb2.CHANNEL_SMS, to=account["phone"],
                                    language=common_pb2.LANGUAGE_ID).SerializeToString())
        await self.pin_lock.succeeded(str(account["id"]))
        return auth_pb2.SetPinResponse()

    async def VerifyPin(self, request, context):
        await self._require_pin(await self._account(request.account_id), request.pin)
        return auth_pb2.VerifyPinResponse()

    async def _require_pin(self, account: asyncpg.Record, pin: str) -> None:
        """5 wrong PINs lock PIN use for 30 minutes (423 PIN_LOCKED)."""
        await self.pin_lock.check(str(account["id"]))
        if not await self.hasher.verify_async(account["pin_hash"], pin):
            failures = await self.pin_lock.failed(str(account["id"]))
            await self.pin_lock.check(str(account["id"]))  # the fifth wrong PIN locks at once
            raise DomainError("wrong PIN", code="PIN_INVALID", attempts_left=MAX_WRONG_PINS - failures)
        await self.pin_lock.succeeded(str(account["id"]))

    async def VerifyEmail(self, request, context):
        account = await self._account(request.account_id)
        if account["email_verified"] or not account["email_verification_id"]:
            raise NotFound("no email verification pending")
        await otp.check_or_raise(self.notify, verification_id=account["email_verification_id"],
                                           code=request.code, purpose=notify_pb2.OTP_PURPOSE_EMAIL_VERIFICATION,
                                           flow_id=str(account["id"]))
        await self.pool.execute("UPDATE accounts SET email_verified = true, email_verification_id = NULL"
                                " WHERE id = $1", account["id"])
        return auth_pb2.VerifyEmailResponse()

    # -- email and phone changes: PIN, a code to the new address, a notice to the old one ----
    async def StartEmailChange(self, request, context):
        return auth_pb2.StartEmailChangeResponse(**await self._start_change(
            request.account_id, "email", request.new_email.strip().lower(), request.pin, request.client))

    async def StartPhoneChange(self, request, context):
        return auth_pb2.StartPhoneChangeResponse(**await self._start_change(
            request.account_id, "phone", normalize_phone(request.new_phone) or request.new_phone, request.pin,
            request.client))

    async def VerifyEmailChange(self, request, context):
        await self._complete_change(request.account_id, request.change_id, request.code, "email")
        return auth_pb2.VerifyEmailChangeResponse()

    async def VerifyPhoneChange(self, request, context):
        await self._complete_change(request.account_id, request.change_id, request.code, "phone")
        return auth_pb2.VerifyPhoneChangeResponse()

    async def _start_change(self, account_id: str, kind: str, new_value: str, pin: str,
                            client: common_pb2.ClientContext) -> dict:
        account = await self._account(account_id)
        await self._require_pin(account, pin)
        if await self.pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM accounts WHERE {kind} = $1)", new_value):
            raise DomainError(f"{kind} already in use", code="ALREADY_REGISTERED")
        change_id = uuid.uuid4()
        issued = await self.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=notify_pb2.OTP_PURPOSE_EMAIL_CHANGE if kind == "email" else notify_pb2.OTP_PURPOSE_PHONE_CHANGE,
            flow_id=str(change_id), channel=common_pb2.CHANNEL_EMAIL if kind == "email" else common_pb2.CHANNEL_SMS,
            destination=new_value, client_ip=client.client_ip, idempotency_key=str(change_id),
            language=client.language))
        await self.pool.execute(
            "INSERT INTO contact_changes (id, account_id, kind, new_value, verification_id, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)", change_id, account["id"], kind, new_value,
            issued.verification.verification_id, datetime.now(UTC) + REGISTRATION_LIFETIME)
        return {"change_id": str(change_id), "otp": otp.challenge(issued.verification)}

    async def _complete_change(self, account_id: str, change_id: str, code: str, kind: str) -> None:
        account = await self._account(account_id)
        change = None
        if is_uuid(change_id):
            change = await self.pool.fetchrow(
                "SELECT id, new_value, verification_id FROM contact_changes WHERE id = $1::uuid AND account_id = $2"
                " AND kind = $3 AND completed_at IS NULL AND expires_at > now()", change_id, account["id"], kind)
        if change is None:  # another person's change is "not found" too
            raise NotFound("no such change")
        purpose = notify_pb2.OTP_PURPOSE_EMAIL_CHANGE if kind == "email" else notify_pb2.OTP_PURPOSE_PHONE_CHANGE
        await otp.check_or_raise(self.notify, verification_id=change["verification_id"], code=code,
                                           purpose=purpose, flow_id=change_id)
        old_value = account[kind]
        async with self.pool.acquire() as conn, conn.transaction():
            column = "email = $2, email_verified = true" if kind == "email" else "phone = $2"
            await conn.execute(f"UPDATE accounts SET {column} WHERE id = $1", account["id"], change["new_value"])
            await conn.execute("UPDATE contact_changes SET completed_at = now() WHERE id = $1", change["id"])
            if old_value:
                masked = mask_email(change["new_value"]) if kind == "email" else mask_phone(change["new_value"])
                await add_event(conn, topic="notify.requests", event_type="notification", key=str(account["id"]),
                                payload=notify_pb2.NotificationRequest(
                                    request_id=f"{kind}-changed:{change['id']}", source="auth",
                                    template=notify_pb2.NOTIFICATION_TEMPLATE_EMAIL_CHANGED if kind == "email"
                                    else notify_pb2.NOTIFICATION_TEMPLATE_PHONE_CHANGED,
                                    channel=common_pb2.CHANNEL_EMAIL if kind == "email" else common_pb2.CHANNEL_SMS,
                                    to=old_value, language=common_pb2.LANGUAGE_ID,
                                    params={f"new_{kind}_masked": masked}).SerializeToString())

    async def _account(self, account_id: str) -> asyncpg.Record:
        account = await store.account_by_id(self.pool, account_id) if is_uuid(account_id) else None
        if account is None:
            raise NotFound("no such account")
        return account

    # -- the account ----------------------------------------------------------------------
    async def GetAccount(self, request, context):
        account = await self._account(request.account_id)
        created = Timestamp()
        created.FromDatetime(account["created_at"])
        return auth_pb2.GetAccountResponse(account=auth_pb2.Account(
            account_id=str(account["id"]), noka=account["noka"], name=account["name"],
            phone_masked=mask_phone(account["phone"]), email_masked=mask_email(account["email"] or ""),
            email_verified=account["email_verified"], pin_set=account["pin_hash"] is not None, created_at=created))

    async def GetJwks(self, request, context):
        return auth_pb2.GetJwksResponse(max_age_s=self.jwks_max_age_s, **jwks_message_fields(self.signing_keys))

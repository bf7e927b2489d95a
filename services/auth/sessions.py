"""Sessions (CONTRACT.md §3–§4 "Sessions"): login, refresh, logout, the devices of an account.
The rules of the parts are in `lockout`, `passwords` and `tokens`; this module orders them.

- Rule 1: a login answers the same 401 INVALID_CREDENTIALS, after the same work (an argon2id
  check against a dummy hash), for an unknown identifier and a wrong password alike; an empty
  identifier is an unknown one. An email names an account only once it is verified
  (`store.account_by_login`).
- Rule 2: the attempt is counted before the password is checked (`lockout` rules 3–4: one
  atomic step on the account's counter, shared by its NIK, NOKA and email, or on the unknown
  identifier's): a locked one is refused first (423 ACCOUNT_LOCKED, even with the right
  password), and with the captcha on, after 3 consecutive failures an attempt without a passed
  captcha is refused (CAPTCHA_REQUIRED) in the same step; a failure stays counted, a success
  resets the count.
- Rule 3: a successful login re-hashes the password when the argon2id parameters changed.
- Rule 4: a login opens a session (named by the client's device id, else its user agent; 200
  characters) with a refresh token valid 30 days; a device the account never used is told to
  the account's phone.
- Rule 5: a refresh rotates the token (`tokens` rule 2); an unknown, expired or revoked token is
  401 UNAUTHENTICATED; an already rotated one is 401 too and, replayed more than 10 s after its
  rotation, revokes the whole session (`tokens` rule 3), which stays revoked.
- Rule 6: logout ends the session of the presented access token: the session's access tokens
  are refused at once (`contracts.revocation`), that token until it expires.
- Rule 7: a person sees and ends only their own open sessions; another's is "not found", and
  so is a session or account id that is not a UUID.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jwt

from jkn.common.v1 import common_pb2
from services.auth import accounts, events, lockout, metrics, store, tokens
from services.auth.deps import Deps
from services.contracts import revocation
from services.kit.errors import DomainError, NotFound, Unauthenticated
from services.kit.logs import get_logger
from services.kit.signing import SigningKey

log = get_logger("jkn.auth.sessions")
REFRESH_LIFETIME = timedelta(days=30)
DEVICE_MAX_LENGTH = 200


@dataclass(frozen=True)
class Tokens:
    """What a login or a refresh hands out."""

    account_id: str
    session_id: str
    access_token: str
    refresh_token: str
    expires_in_s: int = tokens.ACCESS_TTL_S


async def login(deps: Deps, *, identifier: str, password: str, captcha_passed: bool,
                client: common_pb2.ClientContext) -> Tokens:
    """Rules 1–4 (each outcome counted in `metrics.LOGINS`)."""
    try:
        issued = await _login(deps, identifier=identifier.strip(), password=password, captcha_passed=captcha_passed,
                              client=client)
    except DomainError as refusal:
        metrics.login_refused(refusal.code)
        raise
    metrics.LOGINS.labels("succeeded").inc()
    return issued


async def _login(deps: Deps, *, identifier: str, password: str, captcha_passed: bool,
                 client: common_pb2.ClientContext) -> Tokens:
    """Rules 1–4."""
    account = await store.account_by_login(deps.pool, identifier=identifier) if identifier else None
    key = lockout.subject_key(account_id=str(account["id"]) if account else None, identifier=identifier)
    await deps.lockout.reserve(key, captcha_gate=deps.captcha_on and not captcha_passed)
    ok = await deps.hasher.verify_async(account["password_hash"] if account else None, password)
    if not ok or account is None:
        raise DomainError("invalid credentials", code="INVALID_CREDENTIALS")  # the reservation stays counted
    await deps.lockout.succeeded(key)
    if deps.hasher.needs_rehash(account["password_hash"]):
        await store.set_password_hash(deps.pool, account_id=account["id"],
                                      password_hash=await deps.hasher.hash_async(password))
    session_id, refresh = await _open(deps, account=account, device=client.device_id or client.user_agent)
    log.info("login_succeeded", extra={"account_id": str(account["id"]), "session_id": session_id})
    return _tokens(deps.signing_keys, account_id=str(account["id"]), session_id=session_id, refresh=refresh,
                   noka=account["noka"])


async def _open(deps: Deps, *, account: asyncpg.Record, device: str) -> tuple[str, str]:
    """Rule 4: (session id, refresh token)."""
    refresh, refresh_hash = tokens.new_refresh_token()
    device = device[:DEVICE_MAX_LENGTH]
    async with deps.pool.acquire() as conn, conn.transaction():
        known_device = await store.device_known(conn, account_id=account["id"], device=device)
        session_id = await store.open_session(conn, account_id=account["id"], device=device, token_hash=refresh_hash,
                                              expires_at=datetime.now(UTC) + REFRESH_LIFETIME)
        if not known_device:
            await events.tell(conn, events.new_device_login(session_id=session_id, phone=account["phone"],
                                                            device=device, at=datetime.now(UTC)),
                              account_id=str(account["id"]))
    return session_id, refresh


async def refresh(deps: Deps, *, refresh_token: str) -> Tokens:
    """Rule 5."""
    presented = tokens.refresh_hash(refresh_token)
    new_refresh, new_hash = tokens.new_refresh_token()
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await store.refresh_token_for_update(conn, token_hash=presented)
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= datetime.now(UTC):
            raise Unauthenticated("refresh token not valid")
        if row["rotated_at"] is None:
            await store.rotate(conn, old_hash=presented, session_id=row["session_id"], new_hash=new_hash,
                               expires_at=datetime.now(UTC) + REFRESH_LIFETIME)
    if row["rotated_at"] is not None:  # committed separately: the refusal must not undo the revocation
        if tokens.is_theft(rotated_at_s=row["rotated_at"].timestamp(), now_s=time.time()):
            await store.revoke_session(deps.pool, session_id=row["session_id"])
            await revocation.revoke_session(deps.redis, str(row["session_id"]), access_ttl_s=tokens.ACCESS_TTL_S)
            log.warning("refresh_token_reused", extra={"session_id": str(row["session_id"])})
        raise Unauthenticated("refresh token already used")
    return _tokens(deps.signing_keys, account_id=str(row["account_id"]), session_id=str(row["session_id"]),
                   refresh=new_refresh, noka=row["noka"])


async def logout(deps: Deps, *, access_token: str) -> None:
    """Rule 6."""
    presented = claims(deps.signing_keys, access_token)
    await store.revoke_session(deps.pool, session_id=presented["sid"])
    await revocation.revoke_session(deps.redis, presented["sid"], access_ttl_s=tokens.ACCESS_TTL_S)
    await revocation.revoke_token(deps.redis, presented["jti"], int(presented["exp"] - time.time()))


async def open_sessions(deps: Deps, *, account_id: str) -> list[asyncpg.Record]:
    """Rule 7: the account's open sessions, most recently used first."""
    canonical = accounts.canonical_id(account_id)
    if canonical is None:
        raise NotFound("no such account")
    return await store.open_sessions(deps.pool, account_id=canonical)


async def revoke(deps: Deps, *, account_id: str, session_id: str) -> None:
    """Rule 7: end one of my sessions; its access tokens are refused at once."""
    account, session = accounts.canonical_id(account_id), accounts.canonical_id(session_id)
    ended = account and session and await store.revoke_own_session(deps.pool, account_id=account, session_id=session)
    if not ended or session is None:
        raise NotFound("no such session")
    await revocation.revoke_session(deps.redis, session, access_ttl_s=tokens.ACCESS_TTL_S)


def claims(signing_keys: list[SigningKey], access_token: str) -> dict[str, Any]:
    """The claims of a valid access token signed by one of ``signing_keys`` (by its ``kid``);
    401 UNAUTHENTICATED for anything else."""
    try:
        kid = jwt.get_unverified_header(access_token).get("kid")
        key = next(k for k in signing_keys if k.kid == kid)
        return jwt.decode(access_token, key.private_key.public_key(), algorithms=["EdDSA"],
                          options={"require": ["exp", "sub", "sid", "jti"]})
    except (jwt.PyJWTError, StopIteration) as error:
        raise Unauthenticated("invalid access token") from error


def _tokens(signing_keys: list[SigningKey], *, account_id: str, session_id: str, refresh: str, noka: str) -> Tokens:
    """A new access token (newest key) for the session, with its refresh token."""
    access, _jti, _exp = tokens.access_token(signing_keys[0], account_id=account_id, session_id=session_id,
                                             noka=noka)
    return Tokens(account_id=account_id, session_id=session_id, access_token=access, refresh_token=refresh)

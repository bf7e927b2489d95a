"""Access and refresh tokens (CONTRACT.md §3).

- Rule 1: an access token is a JWT signed with the newest key (EdDSA, ``kid``), valid
  900 s, with ``sub`` (account), ``sid`` (session) and ``jti``.
- Rule 2: a refresh token is opaque (256 random bits), stored only as its SHA-256, single
  use: every refresh rotates it.
- Rule 3: presenting an already rotated refresh token more than 10 s after its rotation is
  theft: the whole session (that token and all its descendants) is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

import jwt

from services.kit.signing import SigningKey

ACCESS_TTL_S = 900
REUSE_GRACE_S = 10


def access_token(key: SigningKey, *, account_id: str, session_id: str, noka: str | None = None,
                 now: float | None = None, ttl_s: int = ACCESS_TTL_S) -> tuple[str, str, int]:
    """Rule 1: (token, jti, exp). The participant's card number rides along (``noka``), so the
    gateway needs no call to auth to know whose data a request is about."""
    issued = int(now if now is not None else time.time())
    jti = uuid.uuid4().hex
    claims: dict[str, object] = {"sub": account_id, "sid": session_id, "jti": jti, "iat": issued,
                                 "exp": issued + ttl_s, "iss": "jkn-auth"}
    if noka:
        claims["noka"] = noka
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid}), jti, issued + ttl_s


def new_refresh_token() -> tuple[str, str]:
    """Rule 2: (the token for the client, its hash for the database)."""
    token = secrets.token_urlsafe(32)
    return token, refresh_hash(token)


def refresh_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_theft(*, rotated_at_s: float, now_s: float) -> bool:
    """Rule 3."""
    return now_s - rotated_at_s > REUSE_GRACE_S

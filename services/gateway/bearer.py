"""Access-token verification at the edge, without a call to auth per request.

The gateway keeps auth's public JWKS (``AuthService/GetJwks``), reloads it every
``jwks_refresh_s`` and at once (at most every few seconds) when a token names an unknown
``kid`` — so a key rotation needs no restart. A token is accepted only if its signature,
``exp`` and the claims ``sub``, ``sid``, ``jti`` are all good (CONTRACT.md §3).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import jwt

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.kit.errors import Unauthenticated
from services.kit.logs import get_logger

log = get_logger("jkn.gateway.bearer")
ALGORITHMS = ["EdDSA", "ES256"]
_MIN_RELOAD_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Principal:
    """The caller an access token names."""

    account_id: str
    session_id: str
    token_id: str
    expires_at: int
    #: The participant's NOKA when the token carries it (tokens from before it did, do not).
    noka: str | None = None


class JwksCache:
    def __init__(self, auth: auth_pb2_grpc.AuthServiceStub, *, refresh_s: float):
        self.auth, self.refresh_s = auth, refresh_s
        self.keys: dict[str, jwt.PyJWK] = {}
        self.loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        stale = time.monotonic() - self.loaded_at > self.refresh_s
        unknown = kid not in self.keys and time.monotonic() - self.loaded_at > _MIN_RELOAD_INTERVAL_S
        if stale or unknown:
            await self.reload()
        return self.keys.get(kid)

    async def reload(self) -> None:
        async with self._lock:
            try:
                response = await self.auth.GetJwks(auth_pb2.GetJwksRequest(), timeout=2)
            except Exception as error:  # noqa: BLE001 - keep the old keys while auth is away
                log.warning("jwks_reload_failed", extra={"error": type(error).__name__})
                return
            document = json.loads(response.jwks_json)
            self.keys = {k["kid"]: jwt.PyJWK(k) for k in document["keys"]}
            self.loaded_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `Unauthenticated` for anything else."""
        try:
            header = jwt.get_unverified_header(token)
            key = await self.key(str(header.get("kid", "")))
            if key is None:
                raise Unauthenticated("unknown signing key")
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS,
                                options={"require": ["exp", "sub", "sid", "jti"]})
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid or expired access token") from error
        return Principal(account_id=str(claims["sub"]), session_id=str(claims["sid"]),
                         token_id=str(claims["jti"]), expires_at=int(claims["exp"]),
                         noka=str(claims["noka"]) if claims.get("noka") else None)

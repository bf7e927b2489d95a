"""Access-token verification at the edge, without a call to auth per request.

The gateway keeps auth's public JWKS (``AuthService/GetJwks``). A token is accepted only if its
signature, ``exp`` and the claims ``sub``, ``sid``, ``jti`` are all good (CONTRACT.md §3).

How the keys are kept, so that auth being slow or down never queues requests behind it:
- One refresh at a time (single flight): every caller that needs fresh keys awaits the same
  call, and finds the keys it wanted already there when it gets its turn.
- Keys older than ``jwks_refresh_s`` are refreshed in the background; tokens keep verifying
  against the cached keys meanwhile (and for as long as auth stays away).
- A token naming an unknown ``kid`` (a key rotation) waits for a refresh, but starts one at
  most every ``min_interval_s`` (5 s); a forged ``kid`` cannot make the gateway hammer auth.
- After a failed refresh the next one waits 1 s, doubling to 30 s; a success resets that.
- With no keys at all (auth down since the gateway started) a token cannot be checked: 503
  DEPENDENCY_UNAVAILABLE with Retry-After, not a 401 that would make the app log the person out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.kit.errors import DependencyUnavailable, Unauthenticated
from services.kit.logs import get_logger

log = get_logger("jkn.gateway.bearer")
ALGORITHMS = ["EdDSA", "ES256"]


@dataclass(frozen=True)
class Principal:
    """The caller an access token names."""

    account_id: str
    session_id: str
    token_id: str
    expires_at: int
    #: The participant's NOKA when the token carries it (tokens from before it did, do not).
    noka: str | None = None


class VerifiedTokens:
    """Tokens whose signature and claims were checked, by the token itself, until their ``exp``.

    Bounded: past ``max_entries`` the oldest half is forgotten (they are verified again if seen).
    Only a token that verified is kept, so a flood of forged tokens cannot fill it; a token's entry
    is worthless to anyone who does not hold the token already.
    """

    def __init__(self, max_entries: int = 50_000):
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, str]] = {}

    def get(self, token: str, *, now: float, keys: dict[str, jwt.PyJWK]) -> Principal | None:
        """The token's caller while it is unexpired and its signing key still published."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        caller, kid = entry
        if caller.expires_at <= now or kid not in keys:
            del self._entries[token]
            return None
        return caller

    def put(self, token: str, caller: Principal, kid: str) -> None:
        if len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 2]:  # dicts keep insertion order
                del self._entries[old]
        self._entries[token] = (caller, kid)


class JwksCache:
    def __init__(self, auth: auth_pb2_grpc.AuthServiceStub, *, refresh_s: float, timeout_s: float = 2.0,
                 min_interval_s: float = 5.0, backoff_initial_s: float = 1.0, backoff_max_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.auth, self.refresh_s, self.timeout_s = auth, refresh_s, timeout_s
        self.min_interval_s, self.backoff_initial_s, self.backoff_max_s = min_interval_s, backoff_initial_s, \
            backoff_max_s
        self.clock = clock
        self.keys: dict[str, jwt.PyJWK] = {}
        #: When the keys were last loaded (clock time); None before the first success.
        self.loaded_at: float | None = None
        self.failures = 0
        self._attempted_at: float | None = None
        self._retry_at = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.verified = VerifiedTokens()

    # -- when to refresh -------------------------------------------------------------------------

    def _stale(self, now: float) -> bool:
        return self.loaded_at is None or now - self.loaded_at >= self.refresh_s

    def _may_try(self, now: float) -> bool:
        """Not while backing off after a failure."""
        return now >= self._retry_at

    def _may_try_for_unknown_kid(self, now: float) -> bool:
        """An unknown kid refreshes at most every ``min_interval_s`` (none loaded yet: whenever allowed)."""
        recent = self._attempted_at is not None and now - self._attempted_at < self.min_interval_s
        return self._may_try(now) and (self.loaded_at is None or not recent)

    # -- the refresh -----------------------------------------------------------------------------

    async def refresh(self, *, wanted: Callable[[], bool]) -> None:
        """Load the keys unless ``wanted()`` already holds once the lock is ours (someone else's
        refresh, finished while we waited, got what we need): one call to auth at a time."""
        async with self._lock:
            if wanted():
                return
            self._attempted_at = self.clock()
            try:
                response = await self.auth.GetJwks(auth_pb2.GetJwksRequest(), timeout=self.timeout_s)
                document = json.loads(response.jwks_json)
                keys = {str(k["kid"]): jwt.PyJWK(k) for k in document["keys"]}
            except Exception as error:  # noqa: BLE001 - keep the old keys while auth is away
                self.failures += 1
                delay = min(self.backoff_initial_s * 2 ** (self.failures - 1), self.backoff_max_s)
                self._retry_at = self.clock() + delay
                log.warning("jwks_reload_failed", extra={"error": type(error).__name__, "failures": self.failures,
                                                         "retry_in_s": delay})
                return
            self.keys, self.loaded_at, self.failures, self._retry_at = keys, self.clock(), 0, 0.0

    def _refresh_in_background(self) -> None:
        if self._background is not None and not self._background.done():
            return
        started = self.loaded_at
        self._background = asyncio.create_task(self.refresh(
            wanted=lambda: self.loaded_at != started or not self._may_try(self.clock())))

    async def aclose(self) -> None:
        """Stop a background refresh (the gateway is shutting down)."""
        if self._background is not None and not self._background.done():
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``; None when auth does not publish it. Waits for auth only when the
        kid is not cached (and a refresh may be tried); DependencyUnavailable when no key was ever
        loaded and auth cannot be reached."""
        now = self.clock()
        cached = self.keys.get(kid)
        if cached is not None:
            if self._stale(now) and self._may_try(now):
                self._refresh_in_background()
            return cached
        if self._may_try_for_unknown_kid(now) or self._lock.locked():
            before = self.loaded_at
            await self.refresh(wanted=lambda: kid in self.keys or (
                self.loaded_at != before or not self._may_try_for_unknown_kid(self.clock())))
        if self.loaded_at is None:
            raise DependencyUnavailable("auth (signing keys)",
                                        retry_after=max(1, round(self._retry_at - self.clock())))
        return self.keys.get(kid)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `Unauthenticated` for anything else.

        A token verified once is remembered until it expires (`VerifiedTokens`): an app sends the
        same access token with every request for its 15 minutes, and checking an EdDSA signature
        is the costliest step of an authenticated read. Revocation is not cached (`deps._authenticate`
        asks Redis every time)."""
        known = self.verified.get(token, now=time.time(), keys=self.keys)
        if known is not None:
            now = self.clock()
            if self._stale(now) and self._may_try(now):  # a retired key stops remembered tokens too
                self._refresh_in_background()
            return known
        try:
            kid = str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid or expired access token") from error
        caller = await self._verify(token, kid)
        self.verified.put(token, caller, kid)
        return caller

    async def _verify(self, token: str, kid: str) -> Principal:
        try:
            key = await self.key(kid)
            if key is None:
                raise Unauthenticated("unknown signing key")
            claims = jwt.decode(token, key=key, algorithms=ALGORITHMS,
                                options={"require": ["exp", "sub", "sid", "jti"]})
        except jwt.PyJWTError as error:
            raise Unauthenticated("invalid or expired access token") from error
        return Principal(account_id=str(claims["sub"]), session_id=str(claims["sid"]),
                         token_id=str(claims["jti"]), expires_at=int(claims["exp"]),
                         noka=str(claims["noka"]) if claims.get("noka") else None)

"""Dependencies of the routes, as named aliases (``Annotated[..., Depends(...)]``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jkn.auth.v1 import auth_pb2
from jkn.common.v1 import common_pb2
from services.contracts import freshness, revocation
from services.gateway import client_ip
from services.gateway.bearer import Principal
from services.gateway.problems import language
from services.gateway.state import GatewayState
from services.kit.errors import RateLimited, Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/sessions")


# Every dependency is ``async def``: FastAPI runs a plain ``def`` in a worker thread, a thread
# hop per dependency per request.
async def _state(request: Request) -> GatewayState:
    return request.app.state.gateway


State = Annotated[GatewayState, Depends(_state)]


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None, *,
                        limit: tuple[str, int] | None = None) -> Principal:
    """A valid, unexpired, not revoked access token (revocation: logout, theft, reset), once per
    request (kept on it for the other dependencies that need the caller).

    One Redis round trip: the revocation check, for a participant's token their membership stamp
    (``contracts.freshness`` rule 1, read before any call to membership, kept on the request for
    `membership_stamp`), and with ``limit`` (a name, a count a minute) the account's request
    counter of that name (`limit_bookings`). The hot path of every authenticated request: the
    dependencies built on it take the state from the request, not through another dependency
    (each costs)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing access token")
    state: GatewayState = request.app.state.gateway
    caller = await state.jwks.verify(credentials.credentials)
    candidate = freshness.new_stamp() if caller.noka else b""  # empty: no stamp to read
    keys = [revocation.session_key(caller.session_id), revocation.token_key(caller.token_id),
            freshness.stamp_key(caller.noka) if caller.noka else ""]
    if limit is not None:
        keys.append(_window_key(f"{limit[0]}:{caller.account_id}"))
    revoked, stamp, count = await state.check_caller(keys=keys, args=[candidate, freshness.STAMP_TTL_S])
    if revoked:
        raise Unauthenticated("access token revoked")
    if limit is not None and count > limit[1]:
        raise RateLimited("too many requests", retry_after=_window_left())
    if caller.noka:
        request.state.membership_stamp = freshness.stamp_from(stamp, candidate)
    request.state.principal = caller
    return caller


async def principal(request: Request, credentials: Bearer) -> Principal:
    return await _authenticate(request, credentials)


#: The authenticated caller; missing, invalid or expired token → 401 UNAUTHENTICATED.
CurrentPrincipal = Annotated[Principal, Depends(principal)]


async def _caller_noka(request: Request, credentials: Bearer) -> str:
    """The NOKA of the logged-in participant: from the token, else asked of auth once per account."""
    caller = await _authenticate(request, credentials)
    if caller.noka:
        return caller.noka
    state: GatewayState = request.app.state.gateway
    noka = state.nokas.get(caller.account_id)
    if noka is None:
        reply = await state.auth.GetAccount(auth_pb2.GetAccountRequest(account_id=caller.account_id))
        if len(state.nokas) > 100_000:
            state.nokas.clear()
        noka = state.nokas[caller.account_id] = reply.account.noka
    return noka


#: The caller's NOKA (for the /v1/me routes).
CallerNoka = Annotated[str, Depends(_caller_noka)]

async def _principal_of(request: Request) -> Principal:
    return await _authenticate(request, await _bearer(request))


async def _caller_noka_of(request: Request) -> str:
    return await _caller_noka(request, await _bearer(request))


#: For `lean.LeanRoute`: the dependencies a lean route may take, each as a function of the request
#: alone doing what the dependency and its sub-dependencies do.
RESOLVERS: dict[Callable[..., Any], Callable[[Request], Awaitable[Any]]] = {
    _state: _state, principal: _principal_of, _caller_noka: _caller_noka_of}


def membership_stamp(request: Request) -> bytes | None:
    """The caller's membership stamp (``contracts.freshness``), read by `principal` with the
    revocation check, before membership is asked (None: the token names no NOKA, so the read is
    not cached)."""
    return getattr(request.state, "membership_stamp", None)


async def _client_ip(state: State, request: Request) -> str:
    """The client's address: the TCP peer, or behind a trusted proxy what it forwarded (`client_ip`)."""
    return client_ip.client_address(request.scope, state.settings.trusted_networks)


#: The caller's IP address ("" when the server knows no peer).
ClientIp = Annotated[str, Depends(_client_ip)]


async def _client(request: Request, ip: ClientIp) -> common_pb2.ClientContext:
    """The caller's side of a gRPC request: IP, user agent (200 characters at most) and language."""
    return common_pb2.ClientContext(
        client_ip=ip, user_agent=request.headers.get("user-agent", "")[:200],
        language=common_pb2.LANGUAGE_EN if language(request) == "en" else common_pb2.LANGUAGE_ID)


#: The ``client`` field of the requests to auth and membership.
Client = Annotated[common_pb2.ClientContext, Depends(_client)]


def _window_key(key: str) -> str:
    """The Redis counter of ``key`` in the current one-minute window (it expires after 61 s)."""
    return f"gw:rl:{key}:{int(time.time()) // 60}"


def _window_left() -> int:
    return 60 - int(time.time()) % 60


async def _fixed_window(state: GatewayState, key: str, limit: int) -> None:
    """At most ``limit`` requests per one-minute window for ``key``: 429 RATE_LIMITED with
    Retry-After beyond it."""
    counter = _window_key(key)
    async with state.redis.pipeline(transaction=False) as pipe:  # one round trip
        pipe.incr(counter)  # queued on the pipeline, sent by execute()
        pipe.expire(counter, 61, nx=True)
        count, _ = await pipe.execute()
    if count > limit:
        raise RateLimited("too many requests", retry_after=_window_left())


async def limit_account_routes(state: State, ip: ClientIp) -> None:
    """Per client IP (an IPv6 client by its /64), on the account routes: every route of
    ``routes/accounts.py`` (captcha, registration and its code, login, refresh, logout, password
    reset start and completion) and of ``routes/enrollments.py`` (enrolment start and verify)."""
    await _fixed_window(state, f"account:{client_ip.limit_key(ip)}", state.settings.auth_rate_per_min)


#: Apply to every account route: ``dependencies=[AccountRateLimit]``.
AccountRateLimit = Depends(limit_account_routes)


async def limit_bookings(request: Request, credentials: Bearer) -> None:
    """Per account, on booking and cancelling: a script hammering the button at 06:00 gets
    429s, and the seats go to people. Counted in the caller's check (`_authenticate`: the same
    Redis command), so a booking costs one round trip to Redis, not two."""
    state: GatewayState = request.app.state.gateway
    await _authenticate(request, credentials, limit=("booking", state.settings.booking_rate_per_min))


#: Apply to the booking routes that change something: ``dependencies=[BookingRateLimit]``.
BookingRateLimit = Depends(limit_bookings)


async def _limit_bookings_of(request: Request) -> None:
    await limit_bookings(request, await _bearer(request))


RESOLVERS[limit_bookings] = _limit_bookings_of

#: The dependencies that authenticate the caller (a route using one can answer 401).
AUTHENTICATING = frozenset({principal, _caller_noka, limit_bookings})

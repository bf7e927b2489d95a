"""The JWKS cache never queues requests behind auth (`bearer.JwksCache`): one refresh at a time,
cached keys served while a refresh is due or auth is down, backoff after failures, unknown kids
refreshing at most every few seconds — and, with auth's address pointing at a closed port, the
gateway still answers promptly."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import jwt
import pytest

from services.gateway.bearer import JwksCache, Principal, VerifiedTokens
from services.gateway.deps import CurrentPrincipal
from services.kit.errors import DependencyUnavailable, Unauthenticated
from services.kit.signing import SigningKey, jwks, load_signing_keys
from tests.factories import access_token

KEY = load_signing_keys("dev-jwt-signing-key")[0]
ROTATED = load_signing_keys("dev-jwt-next-key")[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeAuth:
    """AuthService's GetJwks: publishes ``keys``; slow by ``delay``; failing while ``down``; records
    the clock's time of every call."""

    def __init__(self, *keys: SigningKey, clock: Clock, delay: float = 0.0, down: bool = False):
        self.keys, self.clock, self.delay, self.down = list(keys), clock, delay, down
        self.called_at: list[float] = []

    @property
    def calls(self) -> int:
        return len(self.called_at)

    async def GetJwks(self, request, timeout):  # noqa: ASYNC109 - the stub's signature
        self.called_at.append(self.clock())
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionRefusedError("auth is down")
        return SimpleNamespace(jwks_json=json.dumps(jwks(self.keys)))


def cache(auth: FakeAuth, **kwargs) -> JwksCache:
    return JwksCache(auth, refresh_s=300, clock=auth.clock, **kwargs)  # type: ignore[arg-type]


async def settle() -> None:
    """Let a background refresh run to its end (the fake auth answers at once)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_concurrent_requests_share_one_refresh_and_find_the_keys_after_it():
    auth = FakeAuth(KEY, clock=Clock(), delay=0.05)
    keys = cache(auth)
    principals = await asyncio.gather(*(keys.verify(access_token(KEY)) for _ in range(50)))
    assert auth.calls == 1 and {p.account_id for p in principals} == {"acc-1"}


async def test_due_keys_are_refreshed_in_the_background_while_the_cached_ones_serve():
    clock = Clock()
    auth = FakeAuth(KEY, clock=clock)
    keys = cache(auth)
    await keys.verify(access_token(KEY))
    auth.delay, clock.now = 2.0, clock.now + 301  # due, and auth has become slow
    started = time.monotonic()
    await asyncio.gather(*(keys.verify(access_token(KEY)) for _ in range(20)))
    await asyncio.sleep(0.05)
    assert time.monotonic() - started < 0.5
    assert auth.calls == 2  # one background refresh for all twenty, still running
    await keys.aclose()


async def test_failed_refreshes_back_off_from_1_s_doubling_to_30_s_and_keep_the_old_keys():
    clock = Clock()
    auth = FakeAuth(KEY, clock=clock)
    keys = cache(auth)
    await keys.verify(access_token(KEY))
    auth.down = True
    clock.now += 300  # due
    for _ in range(240):  # two minutes, a request every half second
        assert (await keys.verify(access_token(KEY))).account_id == "acc-1"  # the cached key keeps verifying
        await settle()
        clock.now += 0.5
    gaps = [b - a for a, b in zip(auth.called_at[1:], auth.called_at[2:], strict=False)]
    assert gaps == [1, 2, 4, 8, 16, 30, 30]
    auth.down = False
    clock.now += 30
    await keys.verify(access_token(KEY))
    await settle()
    assert keys.failures == 0 and keys.loaded_at == clock.now  # a success resets the backoff


async def test_an_unknown_kid_refreshes_at_most_every_few_seconds():
    clock = Clock()
    auth = FakeAuth(KEY, clock=clock)
    keys = cache(auth)
    await keys.verify(access_token(KEY))
    clock.now += 10
    forged = [keys.verify(access_token(load_signing_keys(f"dev-forged-{i}")[0])) for i in range(30)]
    results = await asyncio.gather(*forged, return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert auth.calls == 2  # the first unknown kid refreshed once; the other 29 waited for it or were refused
    clock.now += 1
    with pytest.raises(Unauthenticated):
        await keys.verify(access_token(load_signing_keys("dev-forged-x")[0]))
    assert auth.calls == 2  # too soon for another refresh

    auth.keys = [ROTATED, KEY]  # auth rotates its key
    clock.now += 5
    assert (await keys.verify(access_token(ROTATED))).account_id == "acc-1"
    assert auth.calls == 3


async def test_no_keys_and_auth_down_is_a_quick_503_not_a_401():
    clock = Clock()
    auth = FakeAuth(KEY, clock=clock, down=True)
    keys = cache(auth)
    for _ in range(5):
        with pytest.raises(DependencyUnavailable) as refused:
            await keys.verify(access_token(KEY))
    assert auth.calls == 1 and refused.value.fields["retry_after"] >= 1  # backing off, not calling again
    auth.down = False
    clock.now += 1
    assert (await keys.verify(access_token(KEY))).account_id == "acc-1"


async def test_with_auth_on_a_closed_port_cached_tokens_and_auth_free_routes_answer_promptly(gateway_client):
    async with gateway_client({}, jwks_refresh_s=0) as (app, client):  # every address is a closed port
        @app.get("/probe")
        async def probe(principal: CurrentPrincipal) -> dict:
            return {"account_id": principal.account_id}

        cold = await client.get("/probe", headers={"Authorization": f"Bearer {access_token(KEY)}"})
        state = app.state.gateway
        state.jwks.keys = {KEY.kid: jwt.PyJWK(KEY.public_jwk())}  # as if loaded before auth went away
        state.jwks.loaded_at = state.jwks.clock() - 3600  # and due for a refresh
        started = time.monotonic()
        answers = await asyncio.gather(*(client.get("/probe", headers={
            "Authorization": f"Bearer {access_token(KEY)}"}) for _ in range(20)))
        captcha = await client.get("/v1/captcha")  # Redis only
        elapsed = time.monotonic() - started
    assert cold.status_code == 503 and cold.json()["code"] == "DEPENDENCY_UNAVAILABLE"
    assert "Retry-After" in cold.headers
    assert [a.status_code for a in answers] == [200] * 20
    assert captcha.status_code == 200
    assert elapsed < 1.5


# --- tokens verified once (`bearer.VerifiedTokens`) -----------------------------------------------------------


async def test_a_verified_token_is_remembered_until_its_key_is_retired():
    clock = Clock()
    auth = FakeAuth(KEY, clock=clock)
    keys = cache(auth)
    token = access_token(KEY)
    first = await keys.verify(token)
    assert await keys.verify(token) == first and auth.calls == 1
    auth.keys, clock.now = [ROTATED], clock.now + 301  # auth stops publishing the key (a compromise)
    assert await keys.verify(token) == first  # still the cached keys while the refresh runs
    await settle()
    with pytest.raises(Unauthenticated):
        await keys.verify(token)


def test_a_remembered_token_is_forgotten_when_it_expires_and_the_cache_stays_bounded():
    published = {KEY.kid: jwt.PyJWK(jwks([KEY])["keys"][0])}
    remembered = VerifiedTokens(max_entries=4)
    caller = Principal(account_id="acc-1", session_id="ses-1", token_id="jti-1", expires_at=1000)
    remembered.put("token", caller, KEY.kid)
    assert remembered.get("token", now=999, keys=published) == caller
    assert remembered.get("token", now=1000, keys=published) is None
    for n in range(10):
        remembered.put(f"token-{n}", caller, KEY.kid)
    assert len(remembered._entries) <= 4 and remembered.get("token-9", now=999, keys=published) == caller

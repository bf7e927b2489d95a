"""Login answers do not reveal whether an account exists; account routes are rate-limited per IP."""

from __future__ import annotations

import statistics
import time
import uuid

import grpc
import pytest

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth.app import build
from services.auth.settings import AuthSettings
from services.kit.errors import decode_rpc_error

KNOWN = ["5171014408950006", "0004567890006", "dewi.lestari@example.id",  # Dewi (email verified)
         "3171010505750007", "0005678900007"]  # Rudi (his email is not verified: no login)


async def test_unknown_identifier_and_wrong_password_take_the_same_time_and_answer(service):
    async with (service(AuthSettings, build, seed_demo_data=True) as auth,
                grpc.aio.insecure_channel(auth.address) as channel):
        stub = auth_pb2_grpc.AuthServiceStub(channel)

        async def attempt(identifier: str) -> tuple[float, str, str]:
            started = time.perf_counter()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Login(auth_pb2.LoginRequest(identifier=identifier, password="Salah#Sandi1"))
            error = decode_rpc_error(caught.value)
            return time.perf_counter() - started, error.code, caught.value.details()

        async def reset_counters() -> None:  # a success resets an account's count: no lockout
            for noka in ("0004567890006", "0005678900007"):
                await stub.Login(auth_pb2.LoginRequest(identifier=noka, password="Sehat#2026"))

        await attempt("warm-up")
        unknown, wrong = [], []
        for n in range(20):  # alternating, so a busy machine slows both alike
            unknown.append(await attempt(f"31710{uuid.uuid4().int % 10**11:011d}"))
            wrong.append(await attempt(KNOWN[n % len(KNOWN)]))
            if n % 4 == 3:  # one counter per account (NIK, NOKA, email): ≤ 3 failures each between resets
                await reset_counters()
    assert {(code, details) for _, code, details in unknown} == {(code, details) for _, code, details in wrong}
    assert {code for _, code, _ in wrong} == {"INVALID_CREDENTIALS"}
    a, b = statistics.median(t for t, _, _ in unknown), statistics.median(t for t, _, _ in wrong)
    assert abs(a - b) / max(a, b) < 0.25, (a, b)


async def test_account_routes_are_limited_per_client_ip(platform, gateway_client, redis_url):
    from services.kit.redis import open_redis

    redis = open_redis(redis_url)
    await redis.delete(*[k async for k in redis.scan_iter("gw:rl:account:*")] or ["-"])  # a fresh window
    await redis.aclose()
    addresses = {name: running.address for name, running in platform.items()}
    async with gateway_client(addresses, auth_rate_per_min=3) as (_, client):
        answers = [await client.post("/v1/sessions/refresh", json={"refresh_token": "x" * 20}) for _ in range(4)]
        health = await client.get("/healthz")
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert answers[-1].json()["code"] == "RATE_LIMITED" and 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert health.status_code == 200


async def test_login_outcomes_are_counted_without_identifiers(service):
    from prometheus_client import REGISTRY

    def count(result: str) -> float:
        return REGISTRY.get_sample_value("auth_logins_total", {"result": result}) or 0.0

    async with (service(AuthSettings, build, seed_demo_data=True) as auth,
                grpc.aio.insecure_channel(auth.address) as channel):
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        before = {r: count(r) for r in ("succeeded", "invalid_credentials")}
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Login(auth_pb2.LoginRequest(identifier=f"31710{uuid.uuid4().int % 10**11:011d}",
                                                   password="Salah#Sandi1"))
        await stub.Login(auth_pb2.LoginRequest(identifier="0005678900007", password="Sehat#2026"))
    assert count("invalid_credentials") == before["invalid_credentials"] + 1
    assert count("succeeded") == before["succeeded"] + 1
    labels = {tuple(s.labels) for m in REGISTRY.collect() if m.name == "auth_logins" for s in m.samples}
    assert labels == {("result",)}

"""With JKN_CAPTCHA=on (the production default): a captcha for registration and after 3 failed logins."""

from __future__ import annotations

import base64
import secrets
import uuid
from contextlib import AsyncExitStack

import httpx
import pytest_asyncio

from services.gateway import captcha
from services.kit.redis import open_redis
from tests.gateway.conftest import BUILDS


@pytest_asyncio.fixture
async def captcha_platform(service):
    """The four services wired to each other, captcha on."""
    async with AsyncExitStack() as stack:
        addresses: dict[str, str] = {}
        for name in ("notify", "queue", "membership", "auth"):
            settings, build = BUILDS[name]
            peers = {f"{peer}_addr": address for peer, address in addresses.items()}
            running = await stack.enter_async_context(service(settings, build, captcha="on", seed_demo_data=True,
                                                              **peers))
            addresses[name] = running.address
        yield addresses


async def known_captcha(redis_url: str, answer: str) -> str:
    """A captcha whose answer the test knows, stored exactly as the gateway stores its own."""
    redis = open_redis(redis_url)
    captcha_id = uuid.uuid4().hex
    await redis.set(f"gw:captcha:{captcha_id}", captcha._digest(answer), ex=60)
    await redis.aclose()
    return captcha_id


async def test_captcha_image_and_registration_needs_one(captcha_platform, gateway_client, redis_url):
    body = {"identifier": "3171011501800001", "birth_date": "1980-01-16", "phone": "081234500001",
            "password": "Keluarga#Sehat1"}
    async with gateway_client(captcha_platform) as (_, client):
        image = (await client.get("/v1/captcha")).json()
        assert image["image"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["image"].split(",", 1)[1])[:4] == b"\x89PNG"
        missing = await client.post("/v1/registrations", json=body)
        wrong = await client.post("/v1/registrations", json={**body, "captcha_id": image["captcha_id"],
                                                              "captcha_answer": "WRONG"})
        reused = await client.post("/v1/registrations", json={**body, "captcha_id": image["captcha_id"],
                                                               "captcha_answer": "WRONG"})
        passed = await client.post("/v1/registrations", json={
            **body, "captcha_id": await known_captcha(redis_url, "K7P3M"), "captcha_answer": "k7p3m"})
    assert missing.status_code == 422 and missing.json()["code"] == "CAPTCHA_REQUIRED"
    assert wrong.json()["code"] == "CAPTCHA_INVALID" and reused.json()["code"] == "CAPTCHA_INVALID"
    assert passed.json()["code"] == "IDENTITY_MISMATCH"  # past the captcha, on to the real checks


async def test_login_needs_a_captcha_after_three_failures(captcha_platform, gateway_client, redis_url):
    from services.auth.lockout import key_of

    rudi = "0005678900007"  # by NOKA: Rudi's email is not verified, so it names no account (CONTRACT.md §3)
    redis = open_redis(redis_url)
    await redis.delete(key_of(rudi))  # other tests share this Redis
    await redis.aclose()
    wrong = {"identifier": rudi, "password": "Salah#Sandi1"}
    async with gateway_client(captcha_platform) as (_, client):
        first = [(await client.post("/v1/sessions", json=wrong)).json()["code"] for _ in range(3)]
        fourth = await client.post("/v1/sessions", json={**wrong, "password": "Sehat#2026"})
        with_captcha = await client.post("/v1/sessions", json={
            "identifier": rudi, "password": "Sehat#2026",
            "captcha_id": await known_captcha(redis_url, "ABCDE"), "captcha_answer": "ABCDE"})
    assert first == ["INVALID_CREDENTIALS"] * 3
    assert fourth.status_code == 422 and fourth.json()["code"] == "CAPTCHA_REQUIRED"
    assert with_captcha.status_code == 201


async def test_a_password_reset_needs_a_captcha(captcha_platform, gateway_client, redis_url):
    body = {"identifier": "0004567890006"}
    async with gateway_client(captcha_platform) as (_, client):
        missing = await client.post("/v1/password-resets", json=body)
        wrong = await client.post("/v1/password-resets", json={
            **body, "captcha_id": await known_captcha(redis_url, "QWERT"), "captcha_answer": "ASDFG"})
        passed = await client.post("/v1/password-resets", json={
            **body, "captcha_id": await known_captcha(redis_url, "QWERT"), "captcha_answer": "qwert"})
    assert missing.status_code == 422 and missing.json()["code"] == "CAPTCHA_REQUIRED"
    assert wrong.status_code == 422 and wrong.json()["code"] == "CAPTCHA_INVALID"
    assert passed.status_code == 202 and passed.json()["reset_id"]


async def test_an_enrolment_needs_a_captcha(captcha_platform, gateway_client, redis_url):
    body = {"kk_number": "3171010101260091", "address": "Jl. Cikini Raya No. 91, Jakarta Pusat",
            "phone": "081234567891", "email": "keluarga.captcha@example.id", "class": 3,
            "fktp_code": "0114R001",  # a hospital: refused after the captcha, before any code is sent
            "members": [{"nik": "3171011004880001", "name": "Hendra Gunawan", "birth_date": "1988-04-10",
                         "sex": "M", "relation": "HEAD"}]}
    async with gateway_client(captcha_platform) as (_, client):
        missing = await client.post("/v1/enrollments", json=body)
        wrong = await client.post("/v1/enrollments", json={
            **body, "captcha_id": await known_captcha(redis_url, "ZXCVB"), "captcha_answer": "ZXCVC"})
        passed = await client.post("/v1/enrollments", json={
            **body, "captcha_id": await known_captcha(redis_url, "ZXCVB"), "captcha_answer": "ZXCVB"})
    assert missing.status_code == 422 and missing.json()["code"] == "CAPTCHA_REQUIRED"
    assert wrong.status_code == 422 and wrong.json()["code"] == "CAPTCHA_INVALID"
    assert passed.status_code == 422 and passed.json()["code"] == "FACILITY_INVALID"  # on to the real checks


async def test_password_reset_and_enrolment_starts_are_limited_per_client_ip(gateway_client):
    """Both are account routes (`deps.AccountRateLimit`): one allowance per client IP a minute,
    spent before any service is asked (here none runs)."""
    async with gateway_client({}, auth_rate_per_min=1) as (app, _):
        for path, body in (("/v1/password-resets", {"identifier": "0004567890006"}), ("/v1/enrollments", {})):
            peer = f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                first, second = [await client.post(path, json=body) for _ in range(2)]
            assert first.status_code != 429, path
            assert second.status_code == 429 and second.json()["code"] == "RATE_LIMITED", path
            assert int(second.headers["Retry-After"]) >= 1

"""With JKN_CAPTCHA=on (the production default): a captcha for registration and after 3 failed logins."""

from __future__ import annotations

import base64
import uuid
from contextlib import AsyncExitStack

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

    redis = open_redis(redis_url)
    await redis.delete(key_of("rudi.hartono@example.id"))  # other tests share this Redis
    await redis.aclose()
    wrong = {"identifier": "rudi.hartono@example.id", "password": "Salah#Sandi1"}
    async with gateway_client(captcha_platform) as (_, client):
        first = [(await client.post("/v1/sessions", json=wrong)).json()["code"] for _ in range(3)]
        fourth = await client.post("/v1/sessions", json={**wrong, "password": "Sehat#2026"})
        with_captcha = await client.post("/v1/sessions", json={
            "identifier": "rudi.hartono@example.id", "password": "Sehat#2026",
            "captcha_id": await known_captcha(redis_url, "ABCDE"), "captcha_answer": "ABCDE"})
    assert first == ["INVALID_CREDENTIALS"] * 3
    assert fourth.status_code == 422 and fourth.json()["code"] == "CAPTCHA_REQUIRED"
    assert with_captcha.status_code == 201

"""Image captchas, generated here and checked here (the edge's job); auth only learns whether one
was passed. An answer is stored as a hash for 5 minutes and can be used once."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid

from captcha.image import ImageCaptcha
from redis.asyncio import Redis

from services.kit.errors import DomainError

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LENGTH = 5
TTL_S = 300
_images = ImageCaptcha(width=200, height=70)


def _key(captcha_id: str) -> str:
    return f"gw:captcha:{captcha_id}"


def _digest(answer: str) -> bytes:
    return hashlib.sha256(answer.strip().upper().encode()).digest()


async def new_captcha(redis: Redis) -> tuple[str, str]:
    """(captcha id, PNG as a data URL)."""
    answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    captcha_id = uuid.uuid4().hex
    await redis.set(_key(captcha_id), _digest(answer), ex=TTL_S)
    png = _images.generate(answer).getvalue()
    return captcha_id, "data:image/png;base64," + base64.b64encode(png).decode()


async def passed(redis: Redis, captcha_id: str | None, answer: str | None) -> bool:
    """False when none was given; CAPTCHA_INVALID when one was given wrong (it is used up either way)."""
    if not captcha_id or not answer:
        return False
    stored = await redis.getdel(_key(captcha_id))  # bytes (the client does not decode), None when unknown
    if not isinstance(stored, bytes) or not secrets.compare_digest(stored, _digest(answer)):
        raise DomainError("wrong captcha", code="CAPTCHA_INVALID")
    return True

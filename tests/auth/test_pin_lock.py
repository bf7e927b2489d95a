"""PIN attempts (services/auth/pin_lock.py) against a real Redis: each guess is reserved before it
is compared; 5 lock PIN use for 30 minutes, however many arrive at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.auth.pin_lock import PinLock
from services.kit.errors import DomainError
from services.kit.redis import open_redis


@pytest.fixture
async def pins(redis_url):
    client = open_redis(redis_url, timeout_s=10)  # a busy machine: the bursts below open many connections
    yield PinLock(client)
    await client.aclose()


async def test_five_guesses_are_reserved_then_pin_use_is_locked_for_30_minutes(pins):
    account = str(uuid.uuid4())
    assert [await pins.reserve(account) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert 1790 <= await pins.retry_after(account) <= 1800
    with pytest.raises(DomainError) as caught:
        await pins.reserve(account)
    assert caught.value.code == "PIN_LOCKED" and 1790 <= caught.value.fields["retry_after"] <= 1800


async def test_a_right_pin_clears_the_count(pins):
    account = str(uuid.uuid4())
    for _ in range(4):
        await pins.reserve(account)
    await pins.succeeded(account)
    assert await pins.reserve(account) == 1


async def test_two_hundred_parallel_guesses_get_five_reservations(pins):
    account = str(uuid.uuid4())

    async def guess() -> int | str:
        try:
            return await pins.reserve(account)
        except DomainError as refusal:
            return refusal.code

    outcomes = await asyncio.gather(*[guess() for _ in range(200)])
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2, 3, 4, 5]
    assert outcomes.count("PIN_LOCKED") == 195

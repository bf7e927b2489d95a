"""Lockout against a real Redis: 5 failures lock for 60 s, doubling, even the right password waits."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from services.auth.lockout import Lockout, key_of
from services.kit.errors import DomainError
from services.kit.redis import open_redis


@pytest.fixture
async def lockout(redis_url):
    client = open_redis(redis_url)
    yield Lockout(client), client
    await client.aclose()


async def test_five_failures_lock_for_60_seconds_and_the_next_lock_doubles(lockout):
    guard, client = lockout
    who = f"user-{uuid.uuid4().hex}"
    for _ in range(4):
        await guard.failed(who)
        await guard.check(who)  # four failures: not locked yet
    await guard.failed(who)
    with pytest.raises(DomainError) as first:
        await guard.check(who)
    assert first.value.code == "ACCOUNT_LOCKED" and 59 <= first.value.fields["retry_after"] <= 60

    await client.hset(key_of(who), "locked_until", 0)  # let the first lock run out
    for _ in range(5):
        await guard.failed(who)
    with pytest.raises(DomainError) as second:
        await guard.check(who)
    assert 119 <= second.value.fields["retry_after"] <= 120


async def test_success_resets_and_identifiers_are_independent(lockout):
    guard, _ = lockout
    who, other = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"
    for _ in range(4):
        await guard.failed(who)
    await guard.succeeded(who)
    for _ in range(4):
        await guard.failed(who)
    await guard.check(who)
    await guard.check(other)


async def test_keys_never_hold_the_identifier(lockout):
    guard, client = lockout
    await guard.failed("3171011501800001")
    keys = [k async for k in client.scan_iter("auth:lock:*")]
    assert keys and not any(b"3171011501800001" in k for k in keys)


def test_weak_pins_are_named():
    from services.auth.passwords import pin_problems

    assert pin_problems("240817") == []
    assert pin_problems("111111") == ["REPEATED_DIGIT"]
    assert pin_problems("123456") == ["SEQUENCE"] and pin_problems("987654") == ["SEQUENCE"]
    assert pin_problems("12345") == ["NOT_6_DIGITS"] and pin_problems("12345a") == ["NOT_6_DIGITS"]


async def test_five_wrong_pins_lock_pin_use_for_30_minutes(lockout):
    from services.auth.pin_lock import PinLock

    _, client = lockout
    pins = PinLock(client)
    account = uuid.uuid4().hex
    assert [await pins.failed(account) for _ in range(4)] == [1, 2, 3, 4]
    await pins.check(account)
    await pins.failed(account)
    with pytest.raises(DomainError) as caught:
        await pins.check(account)
    assert caught.value.code == "PIN_LOCKED" and 1790 <= caught.value.fields["retry_after"] <= 1800


def test_a_lock_key_is_a_hash_of_the_identifier():
    """Pure (no Redis): keys hold a hash, never the identifier (rule 3)."""
    key = key_of("3171011501800001")
    assert key == "auth:lock:" + hashlib.sha256(b"3171011501800001").hexdigest()[:32]
    assert len(key) == len("auth:lock:") + 32 and "3171011501800001" not in key
    assert key_of("3171011501800002") != key


def test_a_lock_key_ignores_case_and_spaces():
    """Pure (no Redis): "Dewi@Example.id " and "dewi@example.id" are one identifier, with one counter."""
    assert key_of("  Dewi.Lestari@Example.ID\n") == key_of("dewi.lestari@example.id") == \
        "auth:lock:" + hashlib.sha256(b"dewi.lestari@example.id").hexdigest()[:32]

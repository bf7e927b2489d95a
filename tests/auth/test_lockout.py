"""Lockout (services/auth/lockout.py) against a real Redis: every attempt is reserved before it is
checked; 5 lock for 60 s, doubling; the captcha gate reads the same counter; and parallel
attempts never get more than their share. The key rules are pure and tested without Redis."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest

from services.auth.lockout import Lockout, account_key, key_of, subject_key
from services.kit.errors import DomainError
from services.kit.redis import open_redis


@pytest.fixture
async def lockout(redis_url):
    client = open_redis(redis_url, timeout_s=10)  # a busy machine: the bursts below open many connections
    yield Lockout(client), client
    await client.aclose()


def fresh() -> str:
    """A counter no other test (sharing this Redis) touches."""
    return key_of(f"user-{uuid.uuid4().hex}")


async def outcome(guard: Lockout, key: str, *, captcha_gate: bool = False) -> str:
    try:
        await guard.reserve(key, captcha_gate=captcha_gate)
    except DomainError as refusal:
        return refusal.code
    return "reserved"


async def test_five_reservations_lock_for_60_seconds_and_the_next_lock_doubles(lockout):
    guard, client = lockout
    key = fresh()
    assert [await outcome(guard, key) for _ in range(5)] == ["reserved"] * 5  # the fifth is still checked
    with pytest.raises(DomainError) as first:
        await guard.reserve(key)
    assert first.value.code == "ACCOUNT_LOCKED" and 59 <= first.value.fields["retry_after"] <= 60

    await client.hset(key, "locked_until", 0)  # let the first lock run out
    assert [await outcome(guard, key) for _ in range(5)] == ["reserved"] * 5
    with pytest.raises(DomainError) as second:
        await guard.reserve(key)
    assert 119 <= second.value.fields["retry_after"] <= 120


async def test_locks_double_up_to_15_minutes(lockout):
    guard, client = lockout
    key = fresh()
    seen = []
    for _ in range(6):  # 60, 120, 240, 480, 900 (not 960), 900
        for _ in range(5):
            await guard.reserve(key)
        with pytest.raises(DomainError) as locked:
            await guard.reserve(key)
        seen.append(locked.value.fields["retry_after"])
        await client.hset(key, "locked_until", 0)
    assert seen == [60, 120, 240, 480, 900, 900]


async def test_failures_are_forgotten_12_hours_after_the_last_one(lockout):
    guard, client = lockout
    key = fresh()
    await guard.reserve(key)
    assert 12 * 3600 - 5 <= await client.ttl(key) <= 12 * 3600
    for _ in range(4):
        await guard.reserve(key)
    assert 12 * 3600 + 55 <= await client.ttl(key) <= 12 * 3600 + 60  # and the lock on top


async def test_a_success_resets_everything_and_counters_are_independent(lockout):
    guard, client = lockout
    key, other = fresh(), fresh()
    for _ in range(4):
        await guard.reserve(key)
    await guard.succeeded(key)
    assert not await client.exists(key)
    assert [await outcome(guard, key) for _ in range(5)] == ["reserved"] * 5
    assert await outcome(guard, key) == "ACCOUNT_LOCKED"
    assert await outcome(guard, other) == "reserved"


async def test_fifty_parallel_attempts_get_five_reservations_and_the_rest_are_locked(lockout):
    guard, _ = lockout
    key = fresh()
    outcomes = await asyncio.gather(*[outcome(guard, key) for _ in range(50)])
    assert outcomes.count("reserved") == 5 and outcomes.count("ACCOUNT_LOCKED") == 45


async def test_the_captcha_gate_reads_the_same_counter_atomically(lockout):
    guard, _ = lockout
    key = fresh()
    outcomes = await asyncio.gather(*[outcome(guard, key, captcha_gate=True) for _ in range(50)])
    assert outcomes.count("reserved") == 3 and outcomes.count("CAPTCHA_REQUIRED") == 47
    # refused attempts were not counted: with a captcha two more are checked, then the lock
    passed = await asyncio.gather(*[outcome(guard, key) for _ in range(50)])
    assert passed.count("reserved") == 2 and passed.count("ACCOUNT_LOCKED") == 48


async def test_a_lock_answers_before_the_captcha_and_the_gate_outlives_the_lock(lockout):
    guard, client = lockout
    key = fresh()
    for _ in range(5):
        await guard.reserve(key)
    assert await outcome(guard, key, captcha_gate=True) == "ACCOUNT_LOCKED"
    await client.hset(key, "locked_until", 0)
    assert await outcome(guard, key, captcha_gate=True) == "CAPTCHA_REQUIRED"  # 5 failures since a success
    assert await outcome(guard, key) == "reserved"


async def test_keys_never_hold_the_identifier_or_the_account(lockout):
    guard, client = lockout
    account = str(uuid.uuid4())
    await guard.reserve(key_of("3171011501800001"))
    await guard.reserve(account_key(account))
    keys = [k async for k in client.scan_iter("auth:lock:*")]
    assert keys and not any(b"3171011501800001" in k or account.encode() in k for k in keys)
    await client.delete(key_of("3171011501800001"), account_key(account))


# --- pure: which counter an attempt uses ------------------------------------------------------

def test_a_lock_key_is_a_hash_of_the_identifier():
    """Pure (no Redis): keys hold a hash, never the identifier (rule 4)."""
    key = key_of("3171011501800001")
    assert key == "auth:lock:" + hashlib.sha256(b"3171011501800001").hexdigest()[:32]
    assert len(key) == len("auth:lock:") + 32 and "3171011501800001" not in key
    assert key_of("3171011501800002") != key


def test_a_lock_key_ignores_case_and_spaces():
    """Pure (no Redis): "Dewi@Example.id " and "dewi@example.id" are one identifier, with one counter."""
    assert key_of("  Dewi.Lestari@Example.ID\n") == key_of("dewi.lestari@example.id") == \
        "auth:lock:" + hashlib.sha256(b"dewi.lestari@example.id").hexdigest()[:32]


def test_an_account_has_one_hashed_key_of_its_own():
    """Pure (no Redis): rule 4 — the account's key is a hash of its id, apart from any identifier's."""
    account = "0b9d4c1e-7a53-4d3b-9f7e-2f1c8a6b5d40"
    key = account_key(account)
    assert key == "auth:lock:" + hashlib.sha256(f"account:{account}".encode()).hexdigest()[:32]
    assert account not in key and key != key_of(account) and key != account_key(str(uuid.uuid4()))


def test_the_subject_is_the_account_once_resolved_else_the_identifier():
    """Pure (no Redis): rule 4 — NIK, NOKA and email of one account share its key; unknown ones have theirs."""
    account = str(uuid.uuid4())
    assert {subject_key(account_id=account, identifier=i) for i in
            ("5171014408950006", "0004567890006", "dewi.lestari@example.id")} == {account_key(account)}
    assert subject_key(account_id=None, identifier=" X@Example.id") == key_of("x@example.id")
    assert subject_key(account_id="", identifier="x@example.id") == key_of("x@example.id")

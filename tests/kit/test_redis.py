"""The kit's Redis client: works against a real server, and a dead Redis is a fast, clear 503."""

from __future__ import annotations

import time

import pytest

from services.devstack import infra
from services.kit.errors import DependencyUnavailable, dependency_failure
from services.kit.redis import check_redis, open_redis
from services.kit.startup import StartupError


async def test_round_trip_against_a_real_redis(redis_url):
    client = open_redis(redis_url)
    try:
        await client.set("kit:test", b"1", ex=5)
        assert await client.get("kit:test") == b"1"
        assert 0 < await client.ttl("kit:test") <= 5
    finally:
        await client.aclose()


async def test_dead_redis_fails_fast_and_maps_to_dependency_unavailable():
    client = open_redis(f"redis://127.0.0.1:{infra.free_port()}/0", timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as caught:  # noqa: B017 - any client error; checked below
            await client.get("anything")
    finally:
        await client.aclose()
    assert time.monotonic() - started < 2
    assert isinstance(dependency_failure(caught.value), DependencyUnavailable)


async def test_unreachable_redis_at_start_is_one_line():
    port = infra.free_port()
    client = open_redis(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    try:
        with pytest.raises(StartupError, match=f"cannot reach Redis at 127.0.0.1:{port}"):
            await check_redis(client, f"redis://127.0.0.1:{port}/0")
    finally:
        await client.aclose()

"""The kit's Redis client: works against a real server, and a dead Redis is a fast, clear 503."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ResponseError

from services.devstack import infra
from services.kit.errors import CODES, DependencyUnavailable, dependency_failure
from services.kit.redis import PipelinedScript, check_redis, open_redis
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


@pytest.mark.parametrize("trouble", ["replica", "full"])
async def test_a_redis_failing_over_or_out_of_memory_is_a_503_not_a_500(tmp_path, trouble):
    """READONLY (a replica now, during a failover) and OOM are ResponseErrors, not connection
    errors: they still mean "try again shortly" (a server of this test's own: it is spoilt)."""
    server = infra.redis_server(tmp_path / "redis", infra.free_port(), persistent=False)
    server.start()
    client = open_redis(f"redis://127.0.0.1:{server.port}/0", timeout_s=2)
    try:
        if trouble == "replica":
            await client.execute_command("REPLICAOF", "127.0.0.1", str(infra.free_port()))
        else:
            await client.config_set("maxmemory", "1")
        with pytest.raises(ResponseError) as caught:
            await client.set("kit:test", b"1")
    finally:
        await client.aclose()
        server.stop()
    unavailable = dependency_failure(caught.value)
    assert isinstance(unavailable, DependencyUnavailable) and CODES[unavailable.code].http == 503


ECHO_OR_FAIL = """
if ARGV[1] == 'fail' then return redis.error_reply('refused ' .. KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[1])
return {KEYS[1], ARGV[1]}
"""


async def _reads_processed(client) -> int:
    return int((await client.info("stats"))["total_reads_processed"])


async def test_a_pipelined_script_answers_each_concurrent_call_with_its_own_reply_in_few_round_trips(redis_url):
    client = open_redis(redis_url)
    script = PipelinedScript(client, ECHO_OR_FAIL)
    try:
        before = await _reads_processed(client)
        replies = await asyncio.gather(*(script(keys=[f"kit:pipe:{i}"], args=[f"v{i}"]) for i in range(200)),
                                       return_exceptions=True)
        reads = await _reads_processed(client) - before
        assert replies == [[f"kit:pipe:{i}".encode(), f"v{i}".encode()] for i in range(200)]
        assert await client.get("kit:pipe:199") == b"v199"
        # 200 calls made in one turn of the loop: the first load of the script, then one pipeline
        # (the server reads a large pipeline in a few chunks), and the INFO of the count itself
        assert reads < 20, reads
        # a call alone is answered just the same
        assert await script(keys=["kit:pipe:alone"], args=["x"]) == [b"kit:pipe:alone", b"x"]
    finally:
        await client.aclose()


async def test_a_pipelined_call_that_fails_fails_alone(redis_url):
    client = open_redis(redis_url)
    script = PipelinedScript(client, ECHO_OR_FAIL)
    try:
        ok, refused, also_ok = await asyncio.gather(
            script(keys=["kit:a"], args=["1"]), script(keys=["kit:b"], args=["fail"]),
            script(keys=["kit:c"], args=["3"]), return_exceptions=True)
        assert ok == [b"kit:a", b"1"] and also_ok == [b"kit:c", b"3"]
        assert isinstance(refused, ResponseError) and "refused kit:b" in str(refused)
    finally:
        await client.aclose()


async def test_a_pipelined_script_the_server_forgot_is_loaded_again(redis_url):
    client = open_redis(redis_url)
    script = PipelinedScript(client, ECHO_OR_FAIL)
    try:
        assert await script(keys=["kit:f"], args=["1"]) == [b"kit:f", b"1"]
        await client.script_flush()  # as after a restart of Redis
        replies = await asyncio.gather(*(script(keys=[f"kit:f{i}"], args=[str(i)]) for i in range(5)))
        assert replies == [[f"kit:f{i}".encode(), str(i).encode()] for i in range(5)]
    finally:
        await client.aclose()


async def test_pipelined_calls_to_a_dead_redis_all_fail_fast():
    client = open_redis(f"redis://127.0.0.1:{infra.free_port()}/0", timeout_s=0.5)
    script = PipelinedScript(client, ECHO_OR_FAIL)
    started = time.monotonic()
    try:
        answers = await asyncio.gather(*(script(keys=["k"], args=["v"]) for _ in range(10)), return_exceptions=True)
    finally:
        await client.aclose()
    assert time.monotonic() - started < 2
    assert all(isinstance(dependency_failure(a), DependencyUnavailable) for a in answers)


async def test_pipelined_arguments_reach_the_script_as_redis_py_would_send_them(redis_url):
    """Text as UTF-8 (its byte length, not its character count), numbers as their decimal text; a
    value Redis has no text for is refused before anything is sent."""
    client = open_redis(redis_url)
    script = PipelinedScript(client, "return ARGV")
    try:
        sent = ["nomor", "Ñandú ü", b"\x00\xffraw", 7, -12, 2.5, 10**20]
        assert await script(keys=[], args=sent) == [await client.execute_command("ECHO", v) for v in sent]
        with pytest.raises(TypeError):
            await script(keys=[], args=[True])
        with pytest.raises(TypeError):
            await script(keys=[], args=[None])
    finally:
        await client.aclose()

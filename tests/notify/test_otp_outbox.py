"""The OTP send relay (services/notify/otp_outbox.py): the Redis outbox stream reaches Kafka once
per send, survives a relay that dies before its ack, and is emptied only after Kafka has it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiokafka import AIOKafkaConsumer

from services.kit.kafka import NOTIFY_REQUESTS
from services.kit.redis import open_redis
from services.notify.otp_outbox import OtpSendRelay
from services.notify.otp_store import Limits, OtpStore
from tests.notify.test_otp_store import issue


async def published(bootstrap: str, count: int, timeout_s: float = 20) -> list[tuple[str, bytes]]:
    """(event_id, payload) of the first ``count`` messages on notify.requests."""
    consumer = AIOKafkaConsumer(NOTIFY_REQUESTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"test-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    found: list[tuple[str, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [(dict(r.headers)["event_id"].decode(), r.value) for r in records]
        await asyncio.sleep(0.5)  # anything beyond ``count`` would show up now
        for records in (await consumer.getmany(timeout_ms=500)).values():
            found += [(dict(r.headers)["event_id"].decode(), r.value) for r in records]
    finally:
        await consumer.stop()
    return found


async def run_for(relay: OtpSendRelay, store: OtpStore, timeout_s: float = 20) -> None:
    task = asyncio.create_task(relay.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await store.redis.xlen(store.outbox) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_queued_sends_reach_kafka_once_with_their_request_id_as_event_id(redis_url, own_broker):
    bootstrap = f"127.0.0.1:{own_broker.port}"
    client = open_redis(redis_url)
    store = OtpStore(client, limits=Limits(), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    try:
        vids = [(await issue(store, destination=f"+62812345{n:05d}", flow=f"f{n}"))[0] for n in range(3)]
        await run_for(OtpSendRelay(store, bootstrap, consumer="a"), store)
        assert await client.xlen(store.outbox) == 0
        assert sorted(await published(bootstrap, 3)) == sorted((f"otp:{v}:1", b"payload-1") for v in vids)
    finally:
        await client.aclose()


async def test_sends_read_by_a_relay_that_died_before_its_ack_go_out_after_all(redis_url, own_broker):
    bootstrap = f"127.0.0.1:{own_broker.port}"
    client = open_redis(redis_url)
    store = OtpStore(client, limits=Limits(), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    try:
        mine, _, _ = await issue(store, destination="+6281234500001", flow="f1")
        await store.ensure_relay_group()
        assert len(await store.read_sends("a", count=10, block_ms=None)) == 1  # relay "a" read it, then died
        theirs, _, _ = await issue(store, destination="+6281234500002", flow="f2")
        assert len(await store.read_sends("b", count=10, block_ms=None)) == 1  # so did relay "b"
        # "a" comes back and sends its own; "c" claims what "b" left (idle long enough)
        await run_for(OtpSendRelay(store, bootstrap, consumer="a", claim_idle_ms=60_000), store, timeout_s=3)
        assert await client.xlen(store.outbox) == 1
        await asyncio.sleep(0.2)
        await run_for(OtpSendRelay(store, bootstrap, consumer="c", claim_idle_ms=100), store)
        assert await client.xlen(store.outbox) == 0
        assert sorted(event_id for event_id, _ in await published(bootstrap, 2)) == sorted(
            [f"otp:{mine}:1", f"otp:{theirs}:1"])
    finally:
        await client.aclose()

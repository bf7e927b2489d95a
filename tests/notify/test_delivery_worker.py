"""A notification request survives a delivery-worker crash mid-batch and is delivered exactly once."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit import db
from services.kit.consumer import IdempotentConsumer
from services.kit.events import publish
from services.kit.kafka import NOTIFY_REQUESTS
from services.kit.outbox import OutboxRelay
from services.kit.redis import open_redis
from services.notify import otp
from services.notify.app import MIGRATIONS
from services.notify.delivery import Delivery
from services.notify.otp_store import Limits, OtpStore
from services.notify.providers import DevOutbox, Outgoing


class CrashOnce(DevOutbox):
    """The dev outbox, except that the process 'dies' while sending one chosen message."""

    def __init__(self, crash_for: str):
        self.crash_for = crash_for

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        if message.to == self.crash_for:
            self.crash_for = ""
            raise asyncio.CancelledError  # killed mid-batch: nothing after this point is committed
        await super().send(message, conn)


async def test_requests_survive_a_worker_crash_and_go_out_exactly_once(fresh_database, redis_url, own_broker):
    dsn = fresh_database("notify_crash")
    await db.migrate(dsn, MIGRATIONS)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
    redis = open_redis(redis_url)
    recipients = [f"+62812000{n:05d}" for n in range(12)]
    provider = CrashOnce(crash_for=recipients[6])
    delivery = Delivery(store=OtpStore(redis, limits=Limits()), keys=otp.parse_code_keys("k:test"),
                        providers={"sms": [provider], "email": [provider]})
    bootstrap = f"127.0.0.1:{own_broker.port}"  # its own topic: other tests' requests stay out

    def worker() -> asyncio.Task:
        return asyncio.create_task(IdempotentConsumer(
            pool=pool, bootstrap=bootstrap, topic=NOTIFY_REQUESTS, group="crash-test", handler=delivery.handle,
            batch_size=20).run())

    async def delivered() -> list[str]:
        return [r["recipient"] for r in await pool.fetch("SELECT recipient FROM dev_outbox ORDER BY id")]

    relay = asyncio.create_task(OutboxRelay(pool, bootstrap, poll_interval_s=0.2).run())
    first = worker()
    try:
        async with pool.acquire() as conn, conn.transaction():
            for n, to in enumerate(recipients):
                request = notify_pb2.NotificationRequest(
                    request_id=f"crash-{n}", template=notify_pb2.NOTIFICATION_TEMPLATE_TURN_NEAR,
                    channel=common_pb2.CHANNEL_SMS, to=to, params={"queue_number": f"A-{n}", "poli": "Umum",
                                                                   "ahead": "2"})
                await publish(conn, NOTIFY_REQUESTS, request, key="same-key")
        await asyncio.wait({first}, timeout=30)
        assert first.done(), "the worker should have crashed"
        assert len(await delivered()) < len(recipients)
        second = worker()
        deadline = time.monotonic() + 40
        while len(await delivered()) < len(recipients) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # any duplicate would land now
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
    finally:
        relay.cancel()
        await asyncio.gather(relay, first, return_exceptions=True)
        rows = await delivered()
        await pool.close()
        await redis.aclose()
    assert sorted(rows) == sorted(recipients)

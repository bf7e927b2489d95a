"""Transactional outbox and idempotent consumer against a real Postgres and a real broker.

The journey: events are written with the change they describe; the relay publishes them;
the broker goes away and comes back (events wait in the outbox meanwhile); a consumer
crashes mid-batch and a new one takes over. Every event is handled exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest

from services.devstack import infra
from services.kit.consumer import PROCESSED_EVENTS_DDL_V1, Event, IdempotentConsumer
from services.kit.kafka import KIT_SELFTEST
from services.kit.outbox import OUTBOX_DDL_V1, OutboxRelay, add_event

TOPIC = KIT_SELFTEST


@pytest.fixture
async def pool(fresh_database):
    pool = await asyncpg.create_pool(fresh_database("outbox"), min_size=1, max_size=8)
    await pool.execute(OUTBOX_DDL_V1 + PROCESSED_EVENTS_DDL_V1 +
                       "CREATE TABLE received (event_id text NOT NULL, n int NOT NULL);"
                       "CREATE TABLE orders (n int PRIMARY KEY);")
    yield pool
    await pool.close()


async def place_orders(pool: asyncpg.Pool, numbers: range) -> None:
    """The 'business change' and its event, in one transaction each."""
    for n in numbers:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO orders (n) VALUES ($1)", n)
            await add_event(conn, topic=TOPIC, event_type="order_placed", key=str(n),
                            payload=json.dumps({"n": n}).encode())


async def wait_for(predicate, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_add_event_refuses_to_run_outside_a_transaction(pool):
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await add_event(conn, topic=TOPIC, event_type="x", payload=b"{}")


async def test_rolled_back_change_publishes_nothing(pool):
    with pytest.raises(ZeroDivisionError):
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, topic=TOPIC, event_type="x", payload=b"{}")
            raise ZeroDivisionError
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_every_event_delivered_exactly_once_across_broker_restart_and_consumer_crash(
        pool, own_broker: infra.ServerProcess, tmp_path):
    bootstrap = f"127.0.0.1:{own_broker.port}"
    crash_at: set[int] = set()

    async def handler(event: Event, conn: asyncpg.Connection) -> None:
        n = event.json()["n"]
        if n in crash_at:
            crash_at.discard(n)
            raise asyncio.CancelledError  # the process dies mid-batch, before offsets are committed
        await conn.execute("INSERT INTO received (event_id, n) VALUES ($1, $2)", event.event_id, n)

    def consumer() -> asyncio.Task:
        return asyncio.create_task(IdempotentConsumer(
            pool=pool, bootstrap=bootstrap, topic=TOPIC, group="selftest", handler=handler, batch_size=10,
            check_interval_s=1).run())

    async def received(count: int):
        return await pool.fetchval("SELECT count(*) FROM received") >= count

    relay = asyncio.create_task(OutboxRelay(pool, bootstrap, poll_interval_s=0.2, send_timeout_s=2).run())
    first = consumer()
    try:
        await place_orders(pool, range(0, 20))
        await wait_for(lambda: received(20), what="first 20 events")

        # The broker goes away: new events wait in the outbox, nothing is lost.
        own_broker.stop()
        await place_orders(pool, range(20, 40))
        await asyncio.sleep(1.0)
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 20
        restarted = infra.broker(tmp_path / "again", own_broker.port)
        restarted.start()
        try:
            await wait_for(lambda: received(40), timeout_s=90, what="events kept through the outage")

            # A consumer crashes in the middle of a batch; a new one takes over the group.
            crash_at.add(47)
            await place_orders(pool, range(40, 60))
            await asyncio.wait({first}, timeout=30)
            assert first.done(), "the consumer should have died at event 47"
            assert await pool.fetchval("SELECT count(*) FROM received") < 60
            second = consumer()
            try:
                await wait_for(lambda: received(60), timeout_s=60, what="events after the consumer crash")
                await asyncio.sleep(1.0)  # a duplicate would show up now
            finally:
                second.cancel()
        finally:
            restarted.stop()
    finally:
        relay.cancel()
        first.cancel()
        await asyncio.gather(relay, first, return_exceptions=True)

    rows = await pool.fetch("SELECT n, count(*) AS times FROM received GROUP BY n ORDER BY n")
    assert [r["n"] for r in rows] == list(range(60))
    assert all(r["times"] == 1 for r in rows)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_failing_event_is_retried_then_dead_lettered(pool, broker: infra.ServerProcess):
    from aiokafka import AIOKafkaConsumer

    bootstrap = f"127.0.0.1:{broker.port}"
    attempts = 0

    async def always_fails(event: Event, conn: asyncpg.Connection) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("cannot handle")

    consumer = IdempotentConsumer(pool=pool, bootstrap=bootstrap, topic=TOPIC, group="dlq-test",
                                  handler=always_fails, max_attempts=3, retry_backoff_s=0.01)
    event = Event(event_id="evt-dlq-1", event_type="order_placed", topic=TOPIC, key="k", payload=b'{"n": 1}')
    assert await consumer.handle(event) == "dead_lettered"
    assert attempts == 3
    # A failed attempt leaves no dedupe mark, so the event is not silently swallowed.
    assert await pool.fetchval("SELECT count(*) FROM processed_events WHERE event_id = 'evt-dlq-1'") == 0

    reader = AIOKafkaConsumer("kit.selftest.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                              group_id="dlq-reader")
    await reader.start()
    try:
        batches = await reader.getmany(timeout_ms=5000)
        headers = [dict(m.headers) for msgs in batches.values() for m in msgs]
    finally:
        await reader.stop()
    assert any(h.get("event_id") is None or h.get("dlq_group") == b"dlq-test" for h in headers)
    assert any(h.get("dlq_error") == b"ValueError" for h in headers)


async def test_duplicate_delivery_is_handled_once(pool, broker: infra.ServerProcess):
    calls = 0

    async def count(event: Event, conn: asyncpg.Connection) -> None:
        nonlocal calls
        calls += 1

    consumer = IdempotentConsumer(pool=pool, bootstrap=f"127.0.0.1:{broker.port}", topic=TOPIC, group="dup",
                                  handler=count)
    event = Event(event_id="evt-dup-1", event_type="x", topic=TOPIC, key=None, payload=b"{}")
    assert [await consumer.handle(event) for _ in range(3)] == ["handled", "duplicate", "duplicate"]
    assert calls == 1

"""The consumer's metrics move with real traffic: lag while messages wait, zero once committed;
every series of a consumer (and the outbox backlog) is on a service's /metrics from the start."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.devstack import infra
from services.kit.consumer import PROCESSED_EVENTS_DDL_V1, Event, IdempotentConsumer
from services.kit.kafka import KIT_SELFTEST, start_producer
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from tests.kit.test_outbox import wait_for

TOPIC = KIT_SELFTEST


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_lag_counts_the_messages_not_yet_committed_and_falls_to_zero(fresh_database,
                                                                          own_broker: infra.ServerProcess):
    bootstrap = f"127.0.0.1:{own_broker.port}"  # a broker of its own: the topic holds only these messages
    pool = await asyncpg.create_pool(fresh_database("lag"), min_size=1, max_size=4)
    await pool.execute(PROCESSED_EVENTS_DDL_V1)
    producer = await start_producer(bootstrap)
    try:
        for n in range(7):  # spread over the topic's partitions by key
            await producer.send_and_wait(TOPIC, b"{}", key=f"k{n}".encode(),
                                         headers=[("event_id", f"lag-{n}".encode())])
    finally:
        await producer.stop()
    group = f"lag-{uuid.uuid4().hex[:8]}"
    release, seen = asyncio.Event(), []

    async def stuck_handler(event: Event, conn: asyncpg.Connection) -> None:
        seen.append(event.event_id)
        await release.wait()

    consumer = IdempotentConsumer(pool=pool, bootstrap=bootstrap, topic=TOPIC, group=group, handler=stuck_handler,
                                  lag_interval_s=0.1)
    assert sample("kafka_consumer_lag_messages", topic=TOPIC, group=group) == 0  # the series exists at once
    task = asyncio.create_task(consumer.run())
    try:
        async def all_waiting() -> bool:  # the handler holds the first message: nothing is committed
            return bool(seen) and sample("kafka_consumer_lag_messages", topic=TOPIC, group=group) == 7

        await wait_for(all_waiting, what="lag of 7 while the handler is stuck")
        release.set()

        async def caught_up() -> bool:
            return sample("kafka_consumer_lag_messages", topic=TOPIC, group=group) == 0

        await wait_for(caught_up, what="lag back to 0")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert sorted(seen) == [f"lag-{n}" for n in range(7)]
    assert sample("kafka_events_consumed_total", topic=TOPIC, group=group, result="handled") == 7
    assert sample("kafka_event_handling_seconds_count", topic=TOPIC, group=group) == 7
    assert sample("kafka_events_dead_lettered_total", topic=TOPIC, group=group) == 0


async def test_a_service_exports_its_consumer_and_outbox_series_from_the_start(service):
    async with service(NotifySettings, build_notify) as notify, httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{notify.metrics_port}/metrics")).text
    series = {(s.name, tuple(sorted(s.labels.items()))) for family in text_string_to_metric_families(text)
              for s in family.samples}
    ours = (("group", "notify-delivery"), ("topic", "notify.requests"))
    assert ("outbox_backlog_events", ()) in series
    assert ("kafka_consumer_lag_messages", ours) in series
    assert ("kafka_events_dead_lettered_total", ours) in series
    assert {("kafka_events_consumed_total", tuple(sorted((*ours, ("result", r)))))
            for r in ("handled", "duplicate", "dead_lettered")} <= series

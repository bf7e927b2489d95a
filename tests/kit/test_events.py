"""Events as protobuf contracts: published on a platform topic with the message's name as its
type, parsed with the generated class (real Postgres for the outbox)."""

from __future__ import annotations

import asyncpg
import pytest

from jkn.membership.v1 import events_pb2 as membership_events
from jkn.queue.v1 import events_pb2 as queue_events
from services.kit.consumer import Event
from services.kit.events import event_type, parse, publish
from services.kit.kafka import QUEUE_EVENTS, TOPICS
from services.kit.outbox import OUTBOX_DDL_V1


@pytest.fixture
async def pool(fresh_database):
    pool = await asyncpg.create_pool(fresh_database("events"), min_size=1, max_size=2)
    await pool.execute(OUTBOX_DDL_V1)
    yield pool
    await pool.close()


def _as_consumed(row: asyncpg.Record) -> Event:
    return Event(event_id=str(row["event_id"]), event_type=row["event_type"], topic=row["topic"],
                 key=row["key"].decode(), payload=row["payload"])


async def test_an_event_is_recorded_with_its_message_name_and_parses_back(pool):
    created = queue_events.BookingCreated(booking=queue_events.BookingFacts(booking_code="20261122INTK7QM2P",
                                                                            queue_number="INT-1"))
    async with pool.acquire() as conn, conn.transaction():
        await publish(conn, QUEUE_EVENTS, created, key="20261122INTK7QM2P")
    row = await pool.fetchrow("SELECT event_id, event_type, topic, key, payload FROM outbox")
    assert (row["event_type"], row["topic"]) == ("jkn.queue.v1.BookingCreated", "queue.events")
    event = _as_consumed(row)
    assert parse(event, queue_events.BookingCreated) == created
    assert parse(event, queue_events.BookingCancelled) is None  # another type: the consumer ignores it


async def test_only_the_platforms_topics_take_events(pool):
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(ValueError, match="not a topic"):
            await publish(conn, "auth.events", membership_events.FktpChanged(noka="0001234567801"))
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert "auth.events" not in TOPICS


def test_event_types_are_the_full_protobuf_names():
    assert event_type(membership_events.StatusChanged) == "jkn.membership.v1.StatusChanged"
    assert event_type(membership_events.StatusChanged()) == "jkn.membership.v1.StatusChanged"

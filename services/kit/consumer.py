"""Idempotent Kafka consumer: dedupe by event id, commit offsets after handling,
retry with backoff, then a dead-letter topic.

For each message the handler runs inside a database transaction that also records
``(group, event_id)`` in ``processed_events``; a message seen before is skipped. Offsets
are committed only after the batch is handled, so a crash replays at most the unfinished
batch, and the dedupe table turns the replay into a no-op. A message that keeps failing
``max_attempts`` times goes to ``<topic>.dlq`` with the error and is counted.

Each message is handled in a CONSUMER span parented from the trace context in its headers
(the relay's PRODUCER span), so the handler's work stays in the trace of the request that
caused it. While it runs, the consumer reports its lag every ``lag_interval_s``:
``kafka_consumer_lag_messages{topic,group}`` is, over the partitions assigned to this
instance, the log-end offset minus the group's committed offset (sum it over instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.kit import metrics
from services.kit.kafka import client_options, dead_letter_topic, ensure_topics, start_producer
from services.kit.logs import get_logger
from services.kit.telemetry import extract_context, with_trace_headers

log = get_logger("jkn.consumer")
tracer = trace.get_tracer("jkn.consumer")

#: DDL of the dedupe table (version 1), executed by the first migration of a consuming service.
PROCESSED_EVENTS_DDL_V1 = """
CREATE TABLE processed_events (
    consumer_group text        NOT NULL,
    event_id       text        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);
"""


@dataclass(frozen=True)
class Event:
    """One message as handlers see it."""

    event_id: str
    event_type: str
    topic: str
    key: str | None
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)
    partition: int | None = None
    offset: int | None = None

    def json(self) -> dict:
        return json.loads(self.payload)

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> Event:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ()) if v is not None}
        event_id = headers.get("event_id") or f"{record.topic}:{record.partition}:{record.offset}"
        return cls(event_id=event_id, event_type=headers.get("event_type", ""), topic=record.topic,
                   key=record.key.decode() if record.key else None, payload=record.value or b"",
                   headers=headers, partition=record.partition, offset=record.offset)

    def span_attributes(self, group: str) -> dict[str, str | int]:
        """What the CONSUMER span records: where the message came from, never its key or payload
        (a key may be a card number; a payload holds phone numbers and names)."""
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.operation.name": "process", "messaging.destination.name": self.topic,
            "messaging.consumer.group.name": group, "messaging.message.id": self.event_id,
            "jkn.event.type": self.event_type}
        if self.partition is not None:
            attributes["messaging.destination.partition.id"] = str(self.partition)
        if self.offset is not None:
            attributes["messaging.kafka.offset"] = self.offset
        return attributes


Handler = Callable[[Event, asyncpg.Connection], Awaitable[None]]


def raise_if_cancelling() -> None:
    """Honour a cancellation that ``asyncio.wait_for`` swallowed (a known Python 3.11 race)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class BrokerForgotOffsets(Exception):
    """The broker no longer has offsets we committed: it lost its state (a restart of the
    memory-only local broker, or expired group offsets). The consumer is rebuilt so it reads
    from what the broker has now; the dedupe table absorbs anything read twice."""


class IdempotentConsumer:
    def __init__(self, *, pool: asyncpg.Pool, bootstrap: str, topic: str, group: str, handler: Handler,
                 max_attempts: int = 5, retry_backoff_s: float = 0.2, batch_size: int = 100,
                 check_interval_s: float = 5.0, lag_interval_s: float = 5.0):
        self.pool, self.bootstrap, self.topic, self.group = pool, bootstrap, topic, group
        self.handler, self.max_attempts, self.retry_backoff_s = handler, max_attempts, retry_backoff_s
        self.batch_size, self.check_interval_s, self.lag_interval_s = batch_size, check_interval_s, lag_interval_s
        self._committed: dict[TopicPartition, int] = {}
        # Every series of this consumer exists from the start (at zero), so dashboards and
        # alerts see "nothing happened" rather than "no data".
        for result in ("handled", "duplicate", "dead_lettered"):
            metrics.EVENTS_CONSUMED.labels(topic, group, result)
        metrics.EVENTS_DEAD_LETTERED.labels(topic, group)
        metrics.CONSUMER_LAG.labels(topic, group)

    async def run(self) -> None:
        """Consume until cancelled; a lost broker is reconnected with backoff."""
        backoff = 0.2
        lag_reporter: asyncio.Task | None = None
        while True:
            raise_if_cancelling()
            consumer = None
            try:
                await ensure_topics(self.bootstrap)
                consumer = AIOKafkaConsumer(
                    self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                    enable_auto_commit=False, auto_offset_reset="earliest",
                    session_timeout_ms=10_000, heartbeat_interval_ms=1_000, metadata_max_age_ms=5_000,
                    **client_options())
                await asyncio.wait_for(consumer.start(), 30)  # includes joining the group
                self._committed.clear()
                backoff = 0.2
                lag_reporter = asyncio.create_task(self._report_lag(consumer), name=f"lag-{self.group}")
                checked = asyncio.get_running_loop().time()
                while True:
                    raise_if_cancelling()
                    batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                    for records in batches.values():
                        for record in records:
                            await self.handle(Event.from_record(record))
                    if batches:
                        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
                        await asyncio.wait_for(consumer.commit(offsets), 10)
                        self._committed.update(offsets)
                    if asyncio.get_running_loop().time() - checked > self.check_interval_s:
                        await self._check_broker_remembers(consumer)
                        checked = asyncio.get_running_loop().time()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - reconnect on any broker trouble
                log.warning("consumer_reconnecting", extra={"group": self.group, "error": type(error).__name__,
                                                            "why": str(error)[:200]})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if lag_reporter is not None:
                    lag_reporter.cancel()
                    await asyncio.wait({lag_reporter}, timeout=1)  # never swallows our own cancellation
                    lag_reporter = None
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(consumer.stop(), 1)  # leaving mid-join can hang ~5 s

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Update the lag gauge now and every ``lag_interval_s`` (a failed measurement keeps the last)."""
        while True:
            try:
                await self.measure_lag(consumer)
                raise_if_cancelling()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the consumer loop notices a lost broker itself
                log.debug("consumer_lag_unknown", extra={"group": self.group, "error": type(error).__name__})
            await asyncio.sleep(self.lag_interval_s)

    async def measure_lag(self, consumer: AIOKafkaConsumer) -> int:
        """Messages of ``topic`` on this instance's partitions that the group has not committed yet."""
        partitions = sorted(tp for tp in consumer.assignment() if tp.topic == self.topic)
        lag = 0
        if partitions:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), 5)
            committed = {tp: await asyncio.wait_for(consumer.committed(tp), 5) for tp in partitions}
            never = [tp for tp, offset in committed.items() if offset is None]
            # A partition the group never committed is read from its beginning (auto_offset_reset).
            starts = await asyncio.wait_for(consumer.beginning_offsets(never), 5) if never else {}
            for tp in partitions:
                done = committed[tp]
                lag += max(0, ends[tp] - (starts[tp] if done is None else done))
        metrics.CONSUMER_LAG.labels(self.topic, self.group).set(lag)
        return lag

    async def _check_broker_remembers(self, consumer: AIOKafkaConsumer) -> None:
        """Raise `BrokerForgotOffsets` if the broker is unreachable or lost our commits."""
        for tp, offset in self._committed.items():
            committed = await asyncio.wait_for(consumer.committed(tp), 5)
            if committed is None or committed < offset:
                raise BrokerForgotOffsets(f"{tp.topic}[{tp.partition}] at {committed}, expected {offset}")

    async def handle(self, event: Event) -> str:
        """Handle one event exactly once per group; returns handled, duplicate or dead_lettered."""
        started = time.perf_counter()
        with tracer.start_as_current_span(
            f"{event.topic} process", context=extract_context(event.headers), kind=trace.SpanKind.CONSUMER,
            attributes=event.span_attributes(self.group), record_exception=False, set_status_on_exception=False,
        ) as span:
            result = await self._handle_with_retries(event, span)
            span.set_attribute("jkn.consumer.result", result)
        metrics.EVENTS_CONSUMED.labels(event.topic, self.group, result).inc()
        metrics.EVENT_HANDLING.labels(event.topic, self.group).observe(time.perf_counter() - started)
        return result

    async def _handle_with_retries(self, event: Event, span: trace.Span) -> str:
        last_error: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._handle_once(event)
            except Exception as error:  # noqa: BLE001 - retried, then dead-lettered
                log.warning("event_handling_failed", extra={
                    "group": self.group, "event_type": event.event_type, "attempt": attempt,
                    "error": type(error).__name__})
                span.add_event("handling_failed", {"attempt": attempt, "error.type": type(error).__name__})
                last_error = error
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", type(last_error).__name__)
        await self._dead_letter(event, last_error)
        return "dead_lettered"

    async def _handle_once(self, event: Event) -> str:
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO processed_events (consumer_group, event_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true", self.group, event.event_id)
            if not fresh:
                return "duplicate"
            await self.handler(event, conn)
            return "handled"

    async def _dead_letter(self, event: Event, error: BaseException | None) -> None:
        producer = await start_producer(self.bootstrap)
        try:
            # The dead letter continues the trace from the processing span that gave up on it.
            headers = with_trace_headers(((k, v.encode()) for k, v in event.headers.items()),
                                         trace.get_current_span())
            headers += [("dlq_group", self.group.encode()), ("dlq_error", type(error).__name__.encode())]
            await producer.send_and_wait(dead_letter_topic(event.topic), event.payload,
                                         key=event.key.encode() if event.key else None, headers=headers)
        finally:
            await producer.stop()
        metrics.EVENTS_DEAD_LETTERED.labels(event.topic, self.group).inc()
        log.error("event_dead_lettered", extra={"group": self.group, "event_type": event.event_type,
                                                "event_id": event.event_id})

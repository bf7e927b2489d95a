"""Transactional outbox: an event is written in the same transaction as the change it
describes, and a relay publishes it to Kafka afterwards.

- `add_event(conn, ...)` inserts into ``outbox`` inside the caller's transaction and
  signals the relay (``NOTIFY``, delivered only on commit). The trace context current at
  that moment (the span of the request that changed something) is stored with the event.
- `OutboxRelay` publishes pending events in id order, waiting for the broker's ack, and
  deletes them in the same database transaction. Each event gets a PRODUCER span that
  continues the stored context (not the relay's own, which belongs to no request); that
  span's context and the event id travel as Kafka headers, so the consumer's span is its
  child. If the broker is away, events stay in the
  table and go out when it is back; if the relay dies between ack and delete, an event may
  be published twice, which consumers absorb by deduplicating on ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.kit import metrics
from services.kit.consumer import raise_if_cancelling
from services.kit.kafka import ensure_topics, start_producer
from services.kit.logs import get_logger
from services.kit.telemetry import extract_context, inject_headers, with_trace_headers

log = get_logger("jkn.outbox")
tracer = trace.get_tracer("jkn.outbox")
NOTIFY_CHANNEL = "jkn_outbox"

#: DDL of the outbox (version 1). Services' first migrations execute it; never edit it in
#: place — a change is a new migration.
OUTBOX_DDL_V1 = """
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    topic       text        NOT NULL,
    key         bytea,
    payload     bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""


async def add_event(conn: asyncpg.Connection, *, topic: str, event_type: str, payload: bytes,
                    key: str | None = None, event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Record an event in the caller's transaction; it is published after commit."""
    if not conn.is_in_transaction():
        raise RuntimeError("add_event must run inside the transaction of the change it describes")
    event_id = event_id or uuid.uuid4()
    headers = {k: v.decode() for k, v in inject_headers()}
    await conn.execute(
        "INSERT INTO outbox (event_id, event_type, topic, key, payload, headers) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        event_id, event_type, topic, key.encode() if key else None, payload, json.dumps(headers))
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return event_id


def _publish_span(row: asyncpg.Record, stored_headers: dict[str, str]) -> trace.Span:
    """The PRODUCER span of one event, a child of the span that wrote it (ended by the caller)."""
    return tracer.start_span(
        f"{row['topic']} publish", context=extract_context(stored_headers), kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.operation.type": "send",
                    "messaging.operation.name": "publish", "messaging.destination.name": row["topic"],
                    "messaging.message.id": str(row["event_id"]), "jkn.event.type": row["event_type"]})


class OutboxRelay:
    """Publishes the outbox to Kafka; run one per service process (replicas share safely)."""

    def __init__(self, pool: asyncpg.Pool, bootstrap: str, *, batch_size: int = 200,
                 poll_interval_s: float = 1.0, send_timeout_s: float = 5.0):
        self.pool, self.bootstrap = pool, bootstrap
        self.batch_size, self.poll_interval_s, self.send_timeout_s = batch_size, poll_interval_s, send_timeout_s
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        """Relay until cancelled; broker or database outages are waited out with backoff."""
        listener: asyncpg.Connection | None = None
        backoff = 0.2
        try:
            listener = await self._listen()
            while True:
                raise_if_cancelling()
                try:
                    sent = await self.relay_once()
                    backoff = 0.2
                except Exception as error:  # noqa: BLE001 - an outage must not kill the relay
                    log.warning("outbox_relay_failed", extra={"error": type(error).__name__})
                    await self._drop_producer()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if sent < self.batch_size:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
        finally:
            await self._drop_producer()
            if listener is not None:
                await self._unlisten(listener)

    async def relay_once(self) -> int:
        """Publish one batch of pending events; return how many went out."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, event_id, event_type, topic, key, payload, headers FROM outbox "
                "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", self.batch_size)
            if len(rows) < self.batch_size:  # the whole backlog is in this batch: no count needed
                metrics.OUTBOX_BACKLOG.set(len(rows))
            else:  # a real backlog: count it, once per full batch only
                metrics.OUTBOX_BACKLOG.set(await conn.fetchval("SELECT count(*) FROM outbox"))
            if not rows:
                return 0
            producer = await self._ensure_producer()
            await self._ensure_topics_exist(producer, {row["topic"] for row in rows})
            spans: list[trace.Span] = []
            try:
                sends = []
                for row in rows:
                    stored = json.loads(row["headers"])
                    span = _publish_span(row, stored)
                    spans.append(span)
                    headers = with_trace_headers(((k, v.encode()) for k, v in stored.items()), span)
                    headers += [("event_id", str(row["event_id"]).encode()),
                                ("event_type", row["event_type"].encode())]
                    sends.append(await producer.send(row["topic"], row["payload"], key=row["key"], headers=headers))
                acks = await asyncio.wait_for(asyncio.gather(*sends), self.send_timeout_s)
            except BaseException as error:
                for span in spans:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", type(error).__name__)
                    span.end()
                raise
            for span, ack in zip(spans, acks, strict=True):
                span.set_attribute("messaging.destination.partition.id", str(ack.partition))
                span.set_attribute("messaging.kafka.offset", ack.offset)
                span.end()
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        for row in rows:
            metrics.OUTBOX_PUBLISHED.labels(row["topic"]).inc()
        metrics.OUTBOX_BACKLOG.dec(len(rows))
        return len(rows)

    async def _ensure_topics_exist(self, producer: AIOKafkaProducer, topics: set[str]) -> None:
        """Create any topic the broker does not have (one metadata request per batch).

        A broker that lost its state (the memory-only local one, after a restart) may
        acknowledge writes to topics it no longer has and drop them; this closes that hole.
        """
        metadata = await asyncio.wait_for(producer.client.fetch_all_metadata(), self.send_timeout_s)
        missing = topics - metadata.topics()
        if missing:
            await ensure_topics(self.bootstrap, tuple(sorted(missing)), timeout_s=self.send_timeout_s)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_producer(self.bootstrap, timeout_s=self.send_timeout_s)
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 2)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def _listen(self) -> asyncpg.Connection | None:
        """Hold one pooled connection that LISTENs for new events (None: poll only)."""
        try:
            conn = await self.pool.acquire()
        except Exception:  # noqa: BLE001 - polling still works without NOTIFY
            return None
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException as error:  # never keep the connection, cancelled or not
            await self.pool.release(conn)
            if isinstance(error, Exception):
                return None
            raise
        return conn

    async def _unlisten(self, conn: asyncpg.Connection) -> None:
        with contextlib.suppress(Exception):
            await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
        await self.pool.release(conn)

"""The relay of OTP sends: the Redis outbox stream (``<prefix>outbox``) to Kafka ``notify.requests``.

An issue or resend queues its send request in the very Lua step that changed the verification
(`otp_store`), so there is no second write to keep in step with the first: a verification that
exists has its send queued, and a refused or failed one has nothing queued. This relay then
publishes the requests as a consumer group ``relay`` member, waiting for Kafka's ack, and only
then acknowledges and deletes them (one Redis round trip per batch):

- at least once to Kafka: a relay that dies before its ack leaves the requests pending in the
  group; it re-reads its own pending ones when it starts again, and any replica claims those of a
  relay gone for longer than ``claim_idle_ms`` (XAUTOCLAIM);
- exactly once per send downstream: the Kafka event id is the request id, which the stream entry
  keeps, so a request published twice is deduplicated by the delivery worker
  (`kit.consumer.IdempotentConsumer`, ``processed_events``), like events of the Postgres outbox.

Each published request gets a PRODUCER span continuing the trace of the RPC that queued it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from jkn.notify.v1 import notify_pb2
from services.kit import metrics as kit_metrics
from services.kit.consumer import raise_if_cancelling
from services.kit.events import event_type
from services.kit.kafka import NOTIFY_REQUESTS, ensure_topics, start_producer
from services.kit.logs import get_logger
from services.kit.telemetry import extract_context, with_trace_headers
from services.notify import metrics
from services.notify.otp_store import OtpStore, QueuedSend

log = get_logger("jkn.notify.otp_outbox")
tracer = trace.get_tracer("jkn.notify.otp_outbox")
_EVENT_TYPE = event_type(notify_pb2.NotificationRequest).encode()


class OtpSendRelay:
    def __init__(self, store: OtpStore, bootstrap: str, *, consumer: str | None = None, batch_size: int = 200,
                 block_ms: int = 500, claim_idle_ms: int = 30_000, send_timeout_s: float = 5.0):
        self.store, self.bootstrap = store, bootstrap
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch_size, self.block_ms, self.claim_idle_ms = batch_size, block_ms, claim_idle_ms
        self.send_timeout_s = send_timeout_s
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        """Relay until cancelled; Redis or broker outages are waited out with backoff."""
        backoff = 0.2
        retry_own = True  # first our own pending requests (a previous life of this relay, a failed batch)
        loop = asyncio.get_running_loop()
        claimed_at = 0.0
        try:
            while True:
                raise_if_cancelling()
                try:
                    if retry_own:
                        await self.store.ensure_relay_group()
                        while await self.relay_once(pending=True):
                            pass
                        retry_own = False
                    if loop.time() - claimed_at > self.claim_idle_ms / 1000:
                        await self._publish(await self.store.claim_stale_sends(
                            self.consumer, min_idle_ms=self.claim_idle_ms, count=self.batch_size))
                        claimed_at = loop.time()
                        metrics.OTP_OUTBOX_BACKLOG.set(await self.store.outbox_length())
                    await self.relay_once()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - an outage must not kill the relay
                    log.warning("otp_outbox_relay_failed", extra={"error": type(error).__name__})
                    await self._drop_producer()
                    retry_own = True
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await self._drop_producer()

    async def relay_once(self, *, pending: bool = False) -> int:
        """Publish one batch (new requests, waiting up to ``block_ms`` for one; or our pending ones)."""
        entries = await self.store.read_sends(self.consumer, count=self.batch_size, block_ms=self.block_ms,
                                              pending=pending)
        await self._publish(entries)
        return len(entries)

    async def _publish(self, entries: list[tuple[bytes, QueuedSend]]) -> None:
        if not entries:
            return
        producer = await self._ensure_producer()
        await self._ensure_topic(producer)
        spans: list[trace.Span] = []
        try:
            sends = []
            for _, send in entries:
                stored = json.loads(send.trace) if send.trace else {}
                span = tracer.start_span(
                    f"{NOTIFY_REQUESTS} publish", context=extract_context(stored), kind=SpanKind.PRODUCER,
                    attributes={"messaging.system": "kafka", "messaging.operation.type": "send",
                                "messaging.operation.name": "publish", "messaging.destination.name": NOTIFY_REQUESTS,
                                "messaging.message.id": send.request_id})
                spans.append(span)
                headers = with_trace_headers(((k, v.encode()) for k, v in stored.items()), span)
                headers += [("event_id", send.request_id.encode()), ("event_type", _EVENT_TYPE)]
                key = send.request_id.split(":")[1].encode() if send.request_id.count(":") >= 2 else None
                sends.append(await producer.send(NOTIFY_REQUESTS, send.payload, key=key, headers=headers))
            await asyncio.wait_for(asyncio.gather(*sends), self.send_timeout_s)
        except BaseException as error:
            for span in spans:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", type(error).__name__)
                span.end()
            raise
        for span in spans:
            span.end()
        await self.store.ack_sends([entry_id for entry_id, _ in entries])
        kit_metrics.OUTBOX_PUBLISHED.labels(NOTIFY_REQUESTS).inc(len(entries))

    async def _ensure_topic(self, producer: AIOKafkaProducer) -> None:
        """Create the topic if the broker does not have it (one metadata request per batch, as the
        kit's relay does): a broker that lost its state (the memory-only local one, restarted) may
        acknowledge writes to a topic it no longer has, and drop them."""
        metadata = await asyncio.wait_for(producer.client.fetch_all_metadata(), self.send_timeout_s)
        if NOTIFY_REQUESTS not in metadata.topics():
            await ensure_topics(self.bootstrap, (NOTIFY_REQUESTS,), timeout_s=self.send_timeout_s)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_producer(self.bootstrap, timeout_s=self.send_timeout_s)
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 2)

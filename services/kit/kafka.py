"""Kafka: the platform's topics, a resilient producer, and topic creation at start-up.

The local broker (tansu) keeps its log in memory, so topics are (re)created whenever a
producer or consumer (re)connects; against real Kafka `ensure_topics` is a no-op for
topics that exist.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.kit.logs import get_logger

log = get_logger("jkn.kafka")

#: Send requests (OTP codes, notifications) for notify's delivery worker: `jkn.notify.v1.NotificationRequest`.
NOTIFY_REQUESTS = "notify.requests"
#: Status changed, payment received, FKTP changed, family enrolled: `jkn/membership/v1/events.proto`.
MEMBERSHIP_EVENTS = "membership.events"
#: Booking created, reminded, turn near, cancelled, no-show, checked in, task recorded: `jkn/queue/v1/events.proto`.
QUEUE_EVENTS = "queue.events"
#: What became of notify's sends (delivery status of one-time codes): `jkn.notify.v1.OtpDeliveryStatusChanged`.
NOTIFY_EVENTS = "notify.events"
#: Used by the kit's own tests.
KIT_SELFTEST = "kit.selftest"
#: Every topic of the platform. Each consumer group also gets ``<topic>.dlq``.
TOPICS = (NOTIFY_REQUESTS, MEMBERSHIP_EVENTS, QUEUE_EVENTS, NOTIFY_EVENTS, KIT_SELFTEST)


@dataclass(frozen=True)
class KafkaSecurity:
    """How this process authenticates to the brokers (``JKN_KAFKA_SECURITY_PROTOCOL`` and
    friends): PLAINTEXT locally; SSL / SASL_SSL (SCRAM or PLAIN) against a production cluster."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile or None)
        if self.protocol.startswith("SASL_"):
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options


_security = KafkaSecurity()


def configure_security(security: KafkaSecurity) -> None:
    """Set once at start-up (`runtime.run_service`); every client made afterwards uses it."""
    global _security
    _security = security


def client_options() -> dict[str, Any]:
    return _security.client_options()


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


ALL_TOPICS = TOPICS + tuple(dead_letter_topic(t) for t in TOPICS)


async def ensure_topics(bootstrap: str, topics: tuple[str, ...] = ALL_TOPICS, *, partitions: int = 3,
                        timeout_s: float = 5.0) -> None:
    """Create any missing topic (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000),
                                **client_options())
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("kafka_topics_created", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


async def start_producer(bootstrap: str, *, timeout_s: float = 5.0) -> AIOKafkaProducer:
    """A started producer that waits for all in-sync replicas (acks=all)."""
    await ensure_topics(bootstrap, timeout_s=timeout_s)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2,
        request_timeout_ms=int(timeout_s * 1000), client_id="jkn", **client_options(),
    )
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except BaseException:
        await producer.stop()
        raise
    return producer

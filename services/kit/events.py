"""Events are protobuf messages (``protos/jkn/<service>/v1/events.proto``, and notify's
``NotificationRequest``), one message type per kind of event, versioned like the APIs.

- `publish` records one in the outbox inside the caller's transaction (`outbox.add_event`),
  on one of the topics of `kit.kafka`; the ``event_type`` header is the message's full name
  (e.g. ``jkn.queue.v1.BookingCreated``), so a consumer knows which class to parse with.
- `parse` is the consumer's side: the event as that class, or None when it is of another type
  (consumers ignore the types they do not handle).
"""

from __future__ import annotations

import uuid
from typing import TypeVar

import asyncpg
from google.protobuf.message import Message

from services.kit.consumer import Event
from services.kit.kafka import TOPICS
from services.kit.outbox import add_event

M = TypeVar("M", bound=Message)


def event_type(message: Message | type[Message]) -> str:
    """The ``event_type`` header of a message (its protobuf full name)."""
    return message.DESCRIPTOR.full_name


async def publish(conn: asyncpg.Connection, topic: str, event: Message, *, key: str | None = None,
                  event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Record ``event`` for ``topic`` (one of `kit.kafka.TOPICS`) in the caller's transaction; it is
    published after commit. ``event_id`` makes a re-recorded event the same event for consumers."""
    if topic not in TOPICS:
        raise ValueError(f"{topic!r} is not a topic of the platform (kit.kafka.TOPICS)")
    return await add_event(conn, topic=topic, event_type=event_type(event), payload=event.SerializeToString(),
                           key=key, event_id=event_id)


def parse(event: Event, message_type: type[M]) -> M | None:
    """The event as ``message_type``, or None when the event is of another type."""
    if event.event_type != event_type(message_type):
        return None
    message = message_type()
    message.ParseFromString(event.payload)
    return message

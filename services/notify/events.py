"""What notify publishes: send requests for its own delivery worker on ``notify.requests``
(`jkn.notify.v1.NotificationRequest`), through the outbox, in the transaction that decided them.
Other services publish the same message for their notifications (auth's `events`)."""

from __future__ import annotations

import uuid

import asyncpg

from jkn.notify.v1 import notify_pb2
from services.kit.events import publish
from services.kit.kafka import NOTIFY_REQUESTS


async def delivery_requested(conn: asyncpg.Connection, request: notify_pb2.NotificationRequest, *, key: str,
                             event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Ask the delivery worker to send ``request`` once the caller's transaction commits."""
    return await publish(conn, NOTIFY_REQUESTS, request, key=key, event_id=event_id)

"""Notifications other services ask for (CONTRACT.md §4 messages: booking confirmed, payment
received, a notice to the old phone, ...), enqueued for the delivery worker.

- Rule 1: a notification has a template other than the OTP code (codes go only through a
  verification) and a channel, SMS or email.
- Rule 2: the same ``request_id`` is accepted twice and delivered once: the event id is
  derived from it, so the outbox (and every consumer after it) sees one event.
"""

from __future__ import annotations

import uuid

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit.errors import ValidationFailed
from services.kit.validation import require
from services.notify import events

CHANNELS = (common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL)
NOT_REQUESTABLE = (notify_pb2.NOTIFICATION_TEMPLATE_UNSPECIFIED, notify_pb2.NOTIFICATION_TEMPLATE_OTP_CODE)
MAX_TEXT = 256


def event_id_of(request_id: str) -> uuid.UUID:
    """Rule 2: one event id per request id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-notification:{request_id}")


async def enqueue(pool: asyncpg.Pool, note: notify_pb2.NotificationRequest) -> bool:
    """Queue ``note`` for delivery (rules 1–2); True when it was queued before (a duplicate)."""
    require({"request_id": note.request_id, "to": note.to}, max_length=MAX_TEXT)
    if note.channel not in CHANNELS or note.template in NOT_REQUESTABLE:
        raise ValidationFailed([{"field": "template", "code": "unsupported",
                                 "message": "a notification template and sms or email"}])
    try:
        async with pool.acquire() as conn, conn.transaction():
            await events.delivery_requested(conn, note, key=note.request_id, event_id=event_id_of(note.request_id))
    except asyncpg.UniqueViolationError:
        return True
    return False

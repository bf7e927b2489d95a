"""What notify publishes: send requests for its own delivery worker on ``notify.requests``
(`jkn.notify.v1.NotificationRequest`), through the outbox, in the transaction that decided them.
Other services publish the same message for their notifications (auth's `events`). And what became
of each send of a one-time code on ``notify.events`` (`jkn.notify.v1.OtpDeliveryStatusChanged`)."""

from __future__ import annotations

import contextlib
import uuid

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit.events import publish
from services.kit.kafka import NOTIFY_EVENTS, NOTIFY_REQUESTS
from services.notify import channels
from services.notify.otp_store import DeliveryChange


async def delivery_requested(conn: asyncpg.Connection, request: notify_pb2.NotificationRequest, *, key: str,
                             event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Ask the delivery worker to send ``request`` once the caller's transaction commits."""
    return await publish(conn, NOTIFY_REQUESTS, request, key=key, event_id=event_id)


_DELIVERY_STATUS = {"queued": common_pb2.OTP_DELIVERY_STATUS_QUEUED, "sent": common_pb2.OTP_DELIVERY_STATUS_SENT,
                    "failed": common_pb2.OTP_DELIVERY_STATUS_FAILED}


def delivery_status(name: str) -> common_pb2.OtpDeliveryStatus.ValueType:
    """``queued`` / ``sent`` / ``failed`` → the enum (anything else: unspecified)."""
    return _DELIVERY_STATUS.get(name, common_pb2.OTP_DELIVERY_STATUS_UNSPECIFIED)


async def delivery_status_changed(pool: asyncpg.Pool, *, request_id: str, change: DeliveryChange,
                                  provider: str) -> None:
    """Publish that one send of a code reached ``change.status`` (on ``notify.events``, keyed by the
    verification; the event id is derived from the send and the status, so recording it twice is
    one event)."""
    event = notify_pb2.OtpDeliveryStatusChanged(
        request_id=request_id, verification_id=change.verification_id,
        purpose=notify_pb2.OtpPurpose.Value(f"OTP_PURPOSE_{change.purpose.upper()}") if change.purpose
        else notify_pb2.OTP_PURPOSE_UNSPECIFIED,
        channel=channels.BY_NAME[change.channel].wire if change.channel in channels.BY_NAME
        else common_pb2.CHANNEL_UNSPECIFIED, provider=provider,
        delivery_status=delivery_status(change.status))
    event.at.GetCurrentTime()
    with contextlib.suppress(asyncpg.UniqueViolationError):  # recorded before: the same event
        async with pool.acquire() as conn, conn.transaction():
            await publish(conn, NOTIFY_EVENTS, event, key=change.verification_id,
                          event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-otp-delivery:{request_id}:{change.status}"))

"""Messages to account holders about their membership: auth owns the contacts, so it turns
membership's events into notification requests for notify (through its outbox).

- A ``payment_received`` event sends "payment received" by SMS to every account of the
  family that paid, in the account's language (Bahasa Indonesia for now).

Queue's events reach the account that made the booking, by SMS: booking confirmed, the
reminder the evening before, "your turn is near", and a cancellation by the facility.
"""

from __future__ import annotations

import uuid

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit.consumer import Event
from services.kit.outbox import add_event

REQUESTS_TOPIC = "notify.requests"


def _rupiah(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


async def on_membership_event(event: Event, conn: asyncpg.Connection) -> None:
    if event.event_type != "payment_received":
        return
    body = event.json()
    accounts = await conn.fetch("SELECT id, phone FROM accounts WHERE noka = ANY($1)", body.get("nokas", []))
    for account in accounts:
        request_id = f"payment:{body['payment_id']}:{account['id']}"
        request = notify_pb2.NotificationRequest(
            request_id=request_id, template=notify_pb2.NOTIFICATION_TEMPLATE_PAYMENT_RECEIVED,
            channel=common_pb2.CHANNEL_SMS, to=account["phone"], language=common_pb2.LANGUAGE_ID, source="auth",
            params={"amount": _rupiah(body["amount_idr"]), "periods": ", ".join(body["periods"])})
        await add_event(conn, topic=REQUESTS_TOPIC, event_type="notification", key=str(account["id"]),
                        payload=request.SerializeToString(),
                        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-notification:{request_id}"))


#: queue.events type → the message the booker gets (others, e.g. task_recorded, send nothing).
QUEUE_TEMPLATES = {
    "booking_created": notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CONFIRMED,
    "booking_reminder": notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_REMINDER,
    "turn_near": notify_pb2.NOTIFICATION_TEMPLATE_TURN_NEAR,
    "booking_cancelled": notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CANCELLED_BY_FACILITY,
}
_QUEUE_PARAMS = ("queue_number", "facility", "poli", "date", "estimated_time", "booking_code", "ahead", "reason")


async def on_queue_event(event: Event, conn: asyncpg.Connection) -> None:
    template = QUEUE_TEMPLATES.get(event.event_type)
    body = event.json()
    if template is None or (event.event_type == "booking_cancelled" and body.get("by") != "facility"):
        return
    account = await conn.fetchrow("SELECT id, phone FROM accounts WHERE id = $1::uuid", body["account_id"])
    if account is None:
        return
    request_id = f"queue:{event.event_id}"
    request = notify_pb2.NotificationRequest(
        request_id=request_id, template=template, channel=common_pb2.CHANNEL_SMS, to=account["phone"],
        language=common_pb2.LANGUAGE_ID, source="queue",
        params={name: str(body[name]) for name in _QUEUE_PARAMS if name in body})
    await add_event(conn, topic=REQUESTS_TOPIC, event_type="notification", key=str(account["id"]),
                    payload=request.SerializeToString(),
                    event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-notification:{request_id}"))

"""What auth publishes: notification requests (`jkn.notify.v1.NotificationRequest`) for notify's
delivery worker on ``notify.requests``, through the outbox, in the transaction of the change.
Auth owns the contacts, so it also words the messages other services' events call for.

- Rule 1: one builder per notice; each names its request by what it is about
  (``new-device:<session>``, ``password-changed:<reset>``, ``pin-changed:<random>``,
  ``email-changed:<change>``, ``phone-changed:<change>``, ``payment:<payment>:<account>``,
  ``queue:<event id>``), so notify delivers a request once.
- Rule 2: a notice never carries a secret (no code, password, PIN or token); a new email address
  or phone number is told masked, to the old one.
- Rule 3: notices about the account go by SMS to its phone in Bahasa Indonesia (the account's
  language, for now), except an email change, which the old email address is told of.
- Rule 4: a notice made from another service's event is published with the event id
  `event_id_of` its request id, so a replayed event records the same outbox event (notify's
  dedupe key, the same derivation as notify's own ``SendNotification``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeAlias

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import events_pb2 as membership_events
from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import events_pb2 as queue_events
from services.kit.clock import JAKARTA
from services.kit.events import publish
from services.kit.kafka import NOTIFY_REQUESTS
from services.kit.masking import mask_email, mask_phone

Notice: TypeAlias = notify_pb2.NotificationRequest


async def tell(conn: asyncpg.Connection, notice: Notice, *, account_id: str,
               event_id: uuid.UUID | None = None) -> None:
    """Record ``notice`` (keyed by the account it is about) in the caller's transaction."""
    await publish(conn, NOTIFY_REQUESTS, notice, key=account_id, event_id=event_id)


def event_id_of(request_id: str) -> uuid.UUID:
    """Rule 4."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-notification:{request_id}")


def _sms(request_id: str, template: notify_pb2.NotificationTemplate.ValueType, *, to: str,
         params: dict[str, str] | None = None, source: str = "auth") -> Notice:
    return Notice(request_id=request_id, source=source, template=template, channel=common_pb2.CHANNEL_SMS, to=to,
                  language=common_pb2.LANGUAGE_ID, params=params or {})


# --- about the account ----------------------------------------------------------------------

def new_device_login(*, session_id: str, phone: str, device: str, at: datetime) -> Notice:
    """A session opened ``at`` on a device the account never used; ``device`` is what the client said."""
    return _sms(f"new-device:{session_id}", notify_pb2.NOTIFICATION_TEMPLATE_NEW_DEVICE_LOGIN, to=phone,
                params={"device": (device or "perangkat tidak dikenal")[:60],
                        "at": at.astimezone(JAKARTA).strftime("%d-%m-%Y %H:%M WIB")})


def password_changed(*, reset_id: uuid.UUID, phone: str) -> Notice:
    return _sms(f"password-changed:{reset_id}", notify_pb2.NOTIFICATION_TEMPLATE_PASSWORD_CHANGED, to=phone)


def pin_changed(*, phone: str) -> Notice:
    """A PIN replaced (setting the first PIN tells nobody)."""
    return _sms(f"pin-changed:{uuid.uuid4()}", notify_pb2.NOTIFICATION_TEMPLATE_PIN_CHANGED, to=phone)


def email_changed(*, change_id: uuid.UUID, old_email: str, new_email: str) -> Notice:
    """Told to the old address, by email (rule 3), with the new one masked (rule 2)."""
    return Notice(request_id=f"email-changed:{change_id}", source="auth",
                  template=notify_pb2.NOTIFICATION_TEMPLATE_EMAIL_CHANGED, channel=common_pb2.CHANNEL_EMAIL,
                  to=old_email, language=common_pb2.LANGUAGE_ID, params={"new_email_masked": mask_email(new_email)})


def phone_changed(*, change_id: uuid.UUID, old_phone: str, new_phone: str) -> Notice:
    """Told to the old number, with the new one masked (rule 2)."""
    return _sms(f"phone-changed:{change_id}", notify_pb2.NOTIFICATION_TEMPLATE_PHONE_CHANGED, to=old_phone,
                params={"new_phone_masked": mask_phone(new_phone)})


def recovery_scheduled(*, recovery_id: uuid.UUID, old_phone: str, email: str, new_phone: str,
                       effective_at: datetime) -> list[Notice]:
    """A recovery will replace the phone at ``effective_at``: told at once to the old phone and to the
    email, with the new number masked (rule 2) and how to stop it (the template says)."""
    params = {"new_phone_masked": mask_phone(new_phone),
              "at": effective_at.astimezone(JAKARTA).strftime("%d-%m-%Y %H:%M WIB")}
    template = notify_pb2.NOTIFICATION_TEMPLATE_ACCOUNT_RECOVERY_SCHEDULED
    return [_sms(f"recovery-scheduled:{recovery_id}:sms", template, to=old_phone, params=params),
            Notice(request_id=f"recovery-scheduled:{recovery_id}:email", source="auth", template=template,
                   channel=common_pb2.CHANNEL_EMAIL, to=email, language=common_pb2.LANGUAGE_ID, params=params)]


def recovered(*, recovery_id: uuid.UUID, new_phone: str, at: datetime) -> Notice:
    """The recovery was applied: told to the new phone."""
    return _sms(f"recovered:{recovery_id}", notify_pb2.NOTIFICATION_TEMPLATE_ACCOUNT_RECOVERED, to=new_phone,
                params={"at": at.astimezone(JAKARTA).strftime("%d-%m-%Y %H:%M WIB")})


# --- about membership's and queue's events --------------------------------------------------

def rupiah(amount_idr: int) -> str:
    """150000 → "150.000" (Indonesian thousands separator)."""
    return f"{amount_idr:,}".replace(",", ".")


def payment_received(*, payment: membership_events.PaymentReceived, account_id: str, phone: str) -> Notice:
    return _sms(f"payment:{payment.payment_id}:{account_id}", notify_pb2.NOTIFICATION_TEMPLATE_PAYMENT_RECEIVED,
                to=phone, params={"amount": rupiah(payment.amount_idr), "periods": ", ".join(payment.periods)})


def _booking_params(booking: queue_events.BookingFacts) -> dict[str, str]:
    """What the booking templates of notify say (their parameter names)."""
    return {"queue_number": booking.queue_number, "facility": booking.facility, "poli": booking.poli,
            "date": booking.date, "estimated_time": booking.estimated_time, "booking_code": booking.booking_code}


def booking_confirmed(*, request_id: str, to: str, booking: queue_events.BookingFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CONFIRMED, to=to,
                params=_booking_params(booking), source="queue")


def booking_reminder(*, request_id: str, to: str, booking: queue_events.BookingFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_REMINDER, to=to,
                params=_booking_params(booking), source="queue")


def turn_near(*, request_id: str, to: str, booking: queue_events.BookingFacts, ahead: int) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_TURN_NEAR, to=to,
                params={**_booking_params(booking), "ahead": str(ahead)}, source="queue")


def booking_cancelled_by_facility(*, request_id: str, to: str, booking: queue_events.BookingFacts,
                                  reason: str) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_BOOKING_CANCELLED_BY_FACILITY, to=to,
                params={**_booking_params(booking), "reason": reason}, source="queue")


def waitlist_booked(*, request_id: str, to: str, booking: queue_events.BookingFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_WAITLIST_BOOKED, to=to,
                params=_booking_params(booking), source="queue")


def _entry_params(entry: queue_events.WaitlistFacts) -> dict[str, str]:
    """What the waitlist templates of notify say (their parameter names)."""
    return {"facility": entry.facility, "poli": entry.poli, "date": entry.date}


def waitlist_offered(*, request_id: str, to: str, entry: queue_events.WaitlistFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_WAITLIST_OFFERED, to=to,
                params={**_entry_params(entry), "until": entry.offer_expires_time}, source="queue")


def waitlist_offer_expired(*, request_id: str, to: str, entry: queue_events.WaitlistFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_WAITLIST_OFFER_EXPIRED, to=to,
                params=_entry_params(entry), source="queue")


def waitlist_session_closed(*, request_id: str, to: str, entry: queue_events.WaitlistFacts) -> Notice:
    return _sms(request_id, notify_pb2.NOTIFICATION_TEMPLATE_WAITLIST_SESSION_CLOSED, to=to,
                params=_entry_params(entry), source="queue")

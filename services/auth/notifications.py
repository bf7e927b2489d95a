"""Messages to account holders about their membership and their bookings: auth owns the
contacts, so it turns membership's and queue's events into notification requests for notify
(`events`, through the outbox, in the consumer's transaction).

- Rule 1: a `PaymentReceived` (``membership.events``) sends "payment received" by SMS to every
  account of the family that paid (members without an account are skipped).
- Rule 2: queue's events reach the account that made the booking, by SMS: `BookingCreated`
  (booking confirmed; "booked from the waitlist" when its seat came from there),
  `BookingReminder` (the evening before), `TurnNear` (your turn is near) and a
  `BookingCancelled` by the facility (a doctor's absence names the earliest alternative in its
  reason); about a waitlist entry, to the account that made it: `WaitlistOffered` (a seat is
  held for you), `WaitlistOfferExpired` and `WaitlistEnded` because the session closed. A
  cancellation by the participant and every other event send nothing, as does a booking whose
  account is gone.
- Rule 3: each notification's event id is derived from its request id (`events.event_id_of`),
  so an event handled twice records one notification.
"""

from __future__ import annotations

from functools import partial
from typing import Protocol

import asyncpg

from jkn.membership.v1 import events_pb2 as membership_events
from jkn.queue.v1 import events_pb2 as queue_events
from services.auth import events, store
from services.kit.consumer import Event
from services.kit.events import parse


async def on_membership_event(event: Event, conn: asyncpg.Connection) -> None:
    """Rules 1 and 3."""
    payment = parse(event, membership_events.PaymentReceived)
    if payment is None:
        return
    for account in await store.phones_of_family(conn, nokas=list(payment.nokas)):
        notice = events.payment_received(payment=payment, account_id=str(account["id"]), phone=account["phone"])
        await events.tell(conn, notice, account_id=str(account["id"]), event_id=events.event_id_of(notice.request_id))


class _QueueNotice(Protocol):
    def __call__(self, *, request_id: str, to: str) -> events.Notice: ...


def queue_notice(event: Event) -> tuple[str, _QueueNotice] | None:
    """Rule 2: the account an event of ``queue.events`` is for and the builder of its notice, or
    None when it tells nobody."""
    found = _booking_notice(event)
    if found is not None:
        return found[0].account_id, found[1]
    if (offered := parse(event, queue_events.WaitlistOffered)) is not None:
        return offered.entry.account_id, partial(events.waitlist_offered, entry=offered.entry)
    if (lapsed := parse(event, queue_events.WaitlistOfferExpired)) is not None:
        return lapsed.entry.account_id, partial(events.waitlist_offer_expired, entry=lapsed.entry)
    ended = parse(event, queue_events.WaitlistEnded)
    if ended is not None and ended.reason == "SESSION_CLOSED":
        return ended.entry.account_id, partial(events.waitlist_session_closed, entry=ended.entry)
    return None


def _booking_notice(event: Event) -> tuple[queue_events.BookingFacts, _QueueNotice] | None:
    if (created := parse(event, queue_events.BookingCreated)) is not None:
        if created.from_waitlist:
            return created.booking, partial(events.waitlist_booked, booking=created.booking)
        return created.booking, partial(events.booking_confirmed, booking=created.booking)
    if (reminder := parse(event, queue_events.BookingReminder)) is not None:
        return reminder.booking, partial(events.booking_reminder, booking=reminder.booking)
    if (near := parse(event, queue_events.TurnNear)) is not None:
        return near.booking, partial(events.turn_near, booking=near.booking, ahead=near.ahead)
    cancelled = parse(event, queue_events.BookingCancelled)
    if cancelled is not None and cancelled.by == queue_events.CANCELLED_BY_FACILITY:
        return cancelled.booking, partial(events.booking_cancelled_by_facility, booking=cancelled.booking,
                                          reason=cancelled.reason)
    return None


async def on_queue_event(event: Event, conn: asyncpg.Connection) -> None:
    """Rules 2 and 3."""
    found = queue_notice(event)
    if found is None:
        return
    account_id, build = found
    account = await store.phone_of(conn, account_id=account_id)
    if account is None:
        return
    notice = build(request_id=f"queue:{event.event_id}", to=account["phone"])
    await events.tell(conn, notice, account_id=str(account["id"]), event_id=events.event_id_of(notice.request_id))

"""What the patients of reschedules, waitlists and a doctor's absence are told: queue's events
become SMS notices for the account that made the booking or the entry (auth's `queue_notice`),
rendered by notify's templates with every parameter they need."""

from __future__ import annotations

from datetime import date, time

from google.protobuf.message import Message

from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import events_pb2
from services.auth.notifications import queue_notice
from services.kit.consumer import Event
from services.kit.events import event_type
from services.kit.kafka import QUEUE_EVENTS
from services.notify import templates
from services.queue import rules

ACCOUNT = "6f1c2b9e-8d0a-4c55-9b0e-3a1d2c4b5e6f"
ENTRY = events_pb2.WaitlistFacts(waitlist_id="e-1", account_id=ACCOUNT, noka="0005678900007", date="2026-12-04",
                                 facility="Klinik Pratama Sehat Menteng", poli="Gigi", offer_expires_time="09:15")
BOOKING = events_pb2.BookingFacts(booking_code="20261204002K7QM2P", account_id=ACCOUNT, noka="0005678900007",
                                  queue_number="002-3", date="2026-12-04", facility="Klinik Pratama Sehat Menteng",
                                  poli="Gigi", estimated_time="08:20", status="BOOKED")


def _told(message: Message) -> tuple[str, str] | None:
    """(template name, Indonesian body) of the SMS an event sends, or None."""
    found = queue_notice(Event(event_id="ev-1", event_type=event_type(message), topic=QUEUE_EVENTS, key="k",
                               payload=message.SerializeToString()))
    if found is None:
        return None
    account_id, build = found
    assert account_id == ACCOUNT
    notice = build(request_id="queue:ev-1", to="+6281234500007")
    name = notify_pb2.NotificationTemplate.Name(notice.template).removeprefix("NOTIFICATION_TEMPLATE_").lower()
    return name, templates.render(name, "id", dict(notice.params)).body


def test_a_seat_from_the_waitlist_an_offer_and_its_expiry_are_told():
    assert _told(events_pb2.BookingCreated(booking=BOOKING, from_waitlist=True))[0] == "waitlist_booked"
    assert _told(events_pb2.BookingCreated(booking=BOOKING))[0] == "booking_confirmed"
    name, body = _told(events_pb2.WaitlistOffered(entry=ENTRY))
    assert name == "waitlist_offered" and "09:15" in body and "2026-12-04" in body
    assert _told(events_pb2.WaitlistOfferExpired(entry=ENTRY))[0] == "waitlist_offer_expired"


def test_a_closed_session_tells_its_waitlist_but_a_passed_date_or_leaving_does_not():
    assert _told(events_pb2.WaitlistEnded(entry=ENTRY, reason="SESSION_CLOSED"))[0] == "waitlist_session_closed"
    assert _told(events_pb2.WaitlistEnded(entry=ENTRY, reason="DATE_PASSED")) is None


def test_a_doctors_absence_names_the_earliest_alternative_and_a_reschedule_tells_nothing_more():
    earliest = rules.describe_alternative(date(2026, 12, 5), time(8, 0), "dr. Andi Wijaya, Sp.PD", 4)
    absent = events_pb2.BookingCancelled(booking=BOOKING, by=events_pb2.CANCELLED_BY_FACILITY,
                                         reason=rules.absence_message(earliest), reason_code=rules.DOCTOR_ABSENT,
                                         alternative=earliest)
    name, body = _told(absent)
    assert name == "booking_cancelled_by_facility"
    assert "2026-12-05 08:00" in body and "dr. Andi Wijaya" in body and "berhalangan" in body
    moved = events_pb2.BookingCancelled(booking=BOOKING, by=events_pb2.CANCELLED_BY_PARTICIPANT,
                                        reason=rules.RESCHEDULED, reason_code=rules.RESCHEDULED)
    assert _told(moved) is None  # the new booking's own confirmation is the message

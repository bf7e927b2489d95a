"""The notices auth publishes: who is told, what they are told, and that no secret rides along."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import events_pb2 as membership_events
from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import events_pb2 as queue_events
from services.auth import events
from services.notify.notifications import event_id_of as notify_event_id_of

PHONE, NEW_PHONE = "+6281234500006", "+6281299998888"
EMAIL, NEW_EMAIL = "dewi.lestari@example.id", "dewi.baru@example.id"
CHANGE, RESET, SESSION = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
BOOKING = queue_events.BookingFacts(booking_code="20261122INTK7QM2P", account_id=str(uuid.uuid4()),
                                    noka="0004567890006", queue_number="INT-1", date="2026-11-22",
                                    facility="RSUD Harapan Sehat", poli="Penyakit Dalam", estimated_time="08:00",
                                    status="BOOKED")


def every_notice() -> list[notify_pb2.NotificationRequest]:
    at = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)
    return [
        events.new_device_login(session_id=SESSION, phone=PHONE, device="Pixel 8", at=at),
        events.password_changed(reset_id=RESET, phone=PHONE),
        events.pin_changed(phone=PHONE),
        events.email_changed(change_id=CHANGE, old_email=EMAIL, new_email=NEW_EMAIL),
        events.phone_changed(change_id=CHANGE, old_phone=PHONE, new_phone=NEW_PHONE),
        events.payment_received(payment=membership_events.PaymentReceived(
            payment_id="p-1", amount_idr=1_250_000, periods=["2026-11"], nokas=["0004567890006"]),
            account_id="a-1", phone=PHONE),
        events.booking_confirmed(request_id="queue:e1", to=PHONE, booking=BOOKING),
        events.booking_reminder(request_id="queue:e2", to=PHONE, booking=BOOKING),
        events.turn_near(request_id="queue:e3", to=PHONE, booking=BOOKING, ahead=3),
        events.booking_cancelled_by_facility(request_id="queue:e4", to=PHONE, booking=BOOKING, reason="tutup"),
    ]


def test_no_notice_carries_a_secret_or_asks_for_a_code():
    for notice in every_notice():
        assert notice.template != notify_pb2.NOTIFICATION_TEMPLATE_OTP_CODE
        assert not {"code", "password", "pin", "token", "otp"} & set(notice.params), notice.params
        assert notice.language == common_pb2.LANGUAGE_ID and notice.request_id and notice.to


def test_a_contact_change_tells_the_old_address_with_the_new_one_masked():
    email = events.email_changed(change_id=CHANGE, old_email=EMAIL, new_email=NEW_EMAIL)
    phone = events.phone_changed(change_id=CHANGE, old_phone=PHONE, new_phone=NEW_PHONE)
    assert (email.to, email.channel) == (EMAIL, common_pb2.CHANNEL_EMAIL)
    assert (phone.to, phone.channel) == (PHONE, common_pb2.CHANNEL_SMS)
    assert NEW_EMAIL not in str(email) and NEW_PHONE not in str(phone)
    assert email.params["new_email_masked"].endswith("@example.id") and "*" in email.params["new_email_masked"]
    assert phone.params["new_phone_masked"].startswith("+62812") and "*" in phone.params["new_phone_masked"]
    assert (email.request_id, phone.request_id) == (f"email-changed:{CHANGE}", f"phone-changed:{CHANGE}")


def test_a_new_device_is_named_and_the_time_is_jakartas():
    notice = events.new_device_login(session_id=SESSION, phone=PHONE, device="", at=datetime(2026, 11, 21, 1, 30,
                                                                                            tzinfo=UTC))
    assert notice.request_id == f"new-device:{SESSION}"
    assert dict(notice.params) == {"device": "perangkat tidak dikenal", "at": "21-11-2026 08:30 WIB"}


def test_amounts_are_written_the_indonesian_way():
    assert [events.rupiah(n) for n in (0, 42_000, 1_250_000)] == ["0", "42.000", "1.250.000"]


def test_auth_derives_a_notifications_event_id_as_notify_does():
    assert events.event_id_of("payment:p-1:a-1") == notify_event_id_of("payment:p-1:a-1")
    assert events.event_id_of("queue:e1") != events.event_id_of("queue:e2")

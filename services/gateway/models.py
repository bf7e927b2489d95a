"""Shapes that more than one route module uses (CONTRACT.md §4), and their conversion from the
services' protobuf messages — one converter per shape.

Instants leave the gateway as ISO 8601 strings with an explicit offset (``utc_iso``,
``jakarta_iso``), formatted here rather than by pydantic, which would write UTC as ``Z``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2
from jkn.queue.v1 import queue_pb2
from services.kit.clock import JAKARTA

#: A 6-digit one-time code (SMS or email).
Code = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["482913"])]
#: An account password as typed (the strength rules are auth's).
Password = Annotated[str, Field(min_length=1, max_length=128, examples=["Sehat#2026"])]


class OtpCode(BaseModel):
    """The body of every route that checks a one-time code: `{code}`."""

    code: Code


class Otp(BaseModel):
    """Where a one-time code went, and when it expires and may be resent (seconds); what the
    provider said about that send (`delivery_status`), and the channels the same code may be
    sent on again (`channels_available`, CONTRACT.md §7)."""

    channel: Literal["sms", "email"]
    destination_masked: str
    expires_in: int
    resend_after: int
    delivery_status: Literal["QUEUED", "SENT", "FAILED"]
    channels_available: list[Literal["sms", "email"]]


def _channel(channel: common_pb2.Channel.ValueType) -> Literal["sms", "email"]:
    return "email" if channel == common_pb2.CHANNEL_EMAIL else "sms"


_DELIVERY: dict[int, Literal["QUEUED", "SENT", "FAILED"]] = {
    common_pb2.OTP_DELIVERY_STATUS_SENT: "SENT", common_pb2.OTP_DELIVERY_STATUS_FAILED: "FAILED"}


def otp_out(challenge: common_pb2.OtpChallenge) -> Otp:
    return Otp(channel=_channel(challenge.channel), destination_masked=challenge.destination_masked,
               expires_in=challenge.expires_in_s, resend_after=challenge.resend_after_s,
               delivery_status=_DELIVERY.get(challenge.delivery_status, "QUEUED"),
               channels_available=list(dict.fromkeys(_channel(c) for c in challenge.channels_available))
               or [_channel(challenge.channel)])


class CodeName(BaseModel):
    """A facility, poli or doctor: `{code, name}`."""

    code: str
    name: str


def code_name_out(value: common_pb2.CodeName) -> CodeName:
    return CodeName(code=value.code, name=value.name)


class Payment(BaseModel):
    """A virtual account to pay premiums into (integer rupiah)."""

    payment_id: str
    virtual_account: str
    amount: int
    expires_at: str


def payment_out(payment: membership_pb2.Payment) -> Payment:
    return Payment(payment_id=payment.payment_id, virtual_account=payment.virtual_account,
                   amount=payment.amount_idr, expires_at=utc_iso(payment.expires_at))


def participant_status(status: membership_pb2.ParticipantStatus.ValueType) -> str:
    """``AKTIF`` or ``TIDAK_AKTIF``."""
    return membership_pb2.ParticipantStatus.Name(status).removeprefix("PARTICIPANT_STATUS_")


def status_reason(reason: membership_pb2.StatusReason.ValueType) -> str | None:
    """Why a participant is not active (``TUNGGAKAN_IURAN``, ...); None when there is no reason."""
    return membership_pb2.StatusReason.Name(reason).removeprefix("STATUS_REASON_") if reason else None


def utc_iso(instant: Timestamp) -> str:
    """ISO 8601 in UTC, e.g. ``2026-01-15T01:00:00+00:00``."""
    return instant.ToDatetime(tzinfo=UTC).isoformat()


def jakarta_iso(instant: Timestamp) -> str:
    """ISO 8601 on the Jakarta wall clock, e.g. ``2026-01-15T08:00:00+07:00``."""
    return instant.ToDatetime(tzinfo=UTC).astimezone(JAKARTA).isoformat()


class Booking(BaseModel):
    """A queue booking: the seat taken, the queue number and the estimated service time."""

    booking_code: str
    queue_number: str
    queue_seq: int
    status: Literal["BOOKED", "CHECKED_IN", "SERVING", "DONE", "CANCELLED", "NO_SHOW"]
    date: str = Field(description="YYYY-MM-DD")
    facility: CodeName
    poli: CodeName
    doctor: CodeName
    noka: str
    estimated_service_at: str = Field(description="ISO 8601, Asia/Jakarta offset")
    remaining_jkn: int
    new_patient: bool
    schedule_id: str
    referral_number: str | None
    created_at: str
    cancel_reason: str | None = Field(None, exclude_if=lambda reason: reason is None,
                                      description="present only on a cancelled booking; `RESCHEDULED` when it "
                                      "was moved, `DOCTOR_ABSENT` when the doctor did not practise")
    rescheduled_to: str | None = Field(None, exclude_if=lambda code: code is None,
                                       description="the booking this one was moved to")
    rescheduled_from: str | None = Field(None, exclude_if=lambda code: code is None,
                                         description="the booking this one replaced")


def booking_out(b: queue_pb2.Booking) -> Booking:
    return Booking(
        booking_code=b.booking_code, queue_number=b.queue_number, queue_seq=b.queue_seq,
        status=queue_pb2.BookingStatus.Name(b.status).removeprefix("BOOKING_STATUS_"), date=b.date,
        facility=code_name_out(b.facility), poli=code_name_out(b.poli), doctor=code_name_out(b.doctor), noka=b.noka,
        estimated_service_at=jakarta_iso(b.estimated_service_at), remaining_jkn=b.remaining_jkn,
        new_patient=b.new_patient, schedule_id=b.schedule_id,
        referral_number=b.referral_number if b.HasField("referral_number") else None,
        created_at=utc_iso(b.created_at), cancel_reason=b.cancel_reason if b.HasField("cancel_reason") else None,
        rescheduled_to=b.rescheduled_to if b.HasField("rescheduled_to") else None,
        rescheduled_from=b.rescheduled_from if b.HasField("rescheduled_from") else None)

"""Doctor schedules and online queue bookings (CONTRACT.md §4 "Facilities and queue")."""

from __future__ import annotations

import datetime as dt
from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, Field

from jkn.queue.v1 import queue_pb2
from services.gateway.deps import BookingRateLimit, CallerNoka, CurrentPrincipal, State
from services.kit.clock import JAKARTA

router = APIRouter(prefix="/v1", tags=["queue"])
BookingCode = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^[0-9A-Za-z]+$")]
_VISIT_TYPES = {"FKTP_REFERRAL": queue_pb2.VISIT_TYPE_FKTP_REFERRAL,
                "INTERNAL_REFERRAL": queue_pb2.VISIT_TYPE_INTERNAL_REFERRAL,
                "CONTROL": queue_pb2.VISIT_TYPE_CONTROL, "HOSPITAL_REFERRAL": queue_pb2.VISIT_TYPE_HOSPITAL_REFERRAL}


def _code_name(value) -> dict[str, str]:
    return {"code": value.code, "name": value.name}


@router.get("/facilities/{code}/schedules", summary="Doctors' sessions at a facility on a date, with free JKN seats")
async def schedules(state: State, code: Annotated[str, Path(pattern=r"^[0-9A-Za-z]{8}$")],
                    date: Annotated[dt.date, Query(description="YYYY-MM-DD (Asia/Jakarta)")],
                    poli: Annotated[str | None, Query(max_length=8, pattern=r"^[0-9A-Za-z]+$")] = None,
                    ) -> dict[str, object]:
    request = queue_pb2.ListSchedulesRequest(facility_code=code, date=date.isoformat())
    if poli:
        request.poli_code = poli
    reply = await state.queue.ListSchedules(request)
    return {"items": [{"schedule_id": s.schedule_id, "poli": _code_name(s.poli), "doctor": _code_name(s.doctor),
                       "start": s.start, "end": s.end, "quota_jkn": s.quota_jkn, "remaining_jkn": s.remaining_jkn,
                       "quota_non_jkn": s.quota_non_jkn}
                      for s in reply.schedules]}


def booking_out(b: queue_pb2.Booking) -> dict[str, object]:
    out: dict[str, object] = {
        "booking_code": b.booking_code, "queue_number": b.queue_number, "queue_seq": b.queue_seq,
        "status": queue_pb2.BookingStatus.Name(b.status).removeprefix("BOOKING_STATUS_"), "date": b.date,
        "facility": _code_name(b.facility), "poli": _code_name(b.poli), "doctor": _code_name(b.doctor),
        "noka": b.noka, "estimated_service_at": b.estimated_service_at.ToDatetime(tzinfo=UTC).astimezone(
            JAKARTA).isoformat(),
        "remaining_jkn": b.remaining_jkn, "new_patient": b.new_patient, "schedule_id": b.schedule_id,
        "referral_number": b.referral_number if b.HasField("referral_number") else None,
        "created_at": b.created_at.ToDatetime(tzinfo=UTC).isoformat()}
    if b.HasField("cancel_reason"):
        out["cancel_reason"] = b.cancel_reason
    return out


class BookingRequest(BaseModel):
    schedule_id: str = Field(min_length=1, max_length=64, examples=["5f0c7a52-3d1e-4a8e-9d43-5b0f0b8f4a11"])
    date: dt.date = Field(examples=["2026-11-22"])
    noka: str | None = Field(None, pattern=r"^[0-9]{13}$", description="a family member; default: me",
                             examples=["0001234567803"])
    referral_number: str | None = Field(None, min_length=19, max_length=19, examples=["0114U0011126Y000001"])
    visit_type: Literal["FKTP_REFERRAL", "INTERNAL_REFERRAL", "CONTROL", "HOSPITAL_REFERRAL"] | None = None
    medical_record_number: str | None = Field(None, min_length=1, max_length=32, examples=["RM-000123"])


@router.post("/bookings", status_code=201, dependencies=[BookingRateLimit],
             summary="Take a queue number (the same Idempotency-Key: the same booking)")
async def create_booking(body: BookingRequest, principal: CurrentPrincipal, noka: CallerNoka, state: State,
                         idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                                       max_length=128)] = None,
                         ) -> dict[str, object]:
    request = queue_pb2.CreateBookingRequest(
        caller=queue_pb2.Caller(account_id=principal.account_id, noka=noka), schedule_id=body.schedule_id,
        date=body.date.isoformat(), visit_type=_VISIT_TYPES.get(body.visit_type or "", 0))
    for name in ("noka", "referral_number", "medical_record_number"):
        if getattr(body, name) is not None:
            setattr(request, name, getattr(body, name))
    if idempotency_key:
        request.idempotency_key = idempotency_key
    reply = await state.queue.CreateBooking(request)
    return booking_out(reply.booking)


@router.get("/bookings", summary="My bookings and those I made for my family")
async def list_bookings(principal: CurrentPrincipal, noka: CallerNoka, state: State) -> dict[str, object]:
    reply = await state.queue.ListBookings(queue_pb2.ListBookingsRequest(
        caller=queue_pb2.Caller(account_id=principal.account_id, noka=noka)))
    return {"items": [booking_out(b) for b in reply.bookings]}


@router.get("/bookings/{booking_code}", summary="One booking with its live queue position")
async def get_booking(booking_code: BookingCode, principal: CurrentPrincipal, noka: CallerNoka,
                      state: State) -> dict[str, object]:
    reply = await state.queue.GetBooking(queue_pb2.GetBookingRequest(
        caller=queue_pb2.Caller(account_id=principal.account_id, noka=noka), booking_code=booking_code))
    return {**booking_out(reply.booking),
            "now_serving": reply.progress.now_serving if reply.progress.HasField("now_serving") else None,
            "ahead": reply.progress.ahead,
            "estimated_service_at": reply.progress.estimated_service_at.ToDatetime(tzinfo=UTC).astimezone(
                JAKARTA).isoformat()}


class CancelRequest(BaseModel):
    reason: str = Field("", max_length=200, examples=["Sudah sembuh"])


@router.post("/bookings/{booking_code}/cancel", dependencies=[BookingRateLimit],
             summary="Cancel (until check-in); the seat is freed at once")
async def cancel_booking(booking_code: BookingCode, body: CancelRequest, principal: CurrentPrincipal,
                         noka: CallerNoka, state: State) -> dict[str, object]:
    reply = await state.queue.CancelBooking(queue_pb2.CancelBookingRequest(
        caller=queue_pb2.Caller(account_id=principal.account_id, noka=noka), booking_code=booking_code,
        reason=body.reason))
    return booking_out(reply.booking)

"""Doctor schedules and online queue bookings (CONTRACT.md §4 "Facilities and queue")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, Field

from jkn.queue.v1 import queue_pb2
from services.gateway.bearer import Principal
from services.gateway.deps import BookingRateLimit, CallerNoka, CurrentPrincipal, State
from services.gateway.lean import LeanRoute
from services.gateway.models import Booking, CodeName, booking_out, code_name_out, jakarta_iso

router = APIRouter(prefix="/v1", tags=["queue"])
BookingCode = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^[0-9A-Za-z]+$")]
_VISIT_TYPES = {"FKTP_REFERRAL": queue_pb2.VISIT_TYPE_FKTP_REFERRAL,
                "INTERNAL_REFERRAL": queue_pb2.VISIT_TYPE_INTERNAL_REFERRAL,
                "CONTROL": queue_pb2.VISIT_TYPE_CONTROL, "HOSPITAL_REFERRAL": queue_pb2.VISIT_TYPE_HOSPITAL_REFERRAL}


class Schedule(BaseModel):
    """A doctor's session at a poli on the date asked for, with its JKN seats."""

    schedule_id: str
    poli: CodeName
    doctor: CodeName
    start: str = Field(description="HH:MM (Asia/Jakarta)")
    end: str = Field(description="HH:MM (Asia/Jakarta)")
    quota_jkn: int
    remaining_jkn: int
    quota_non_jkn: int


class Schedules(BaseModel):
    items: list[Schedule]


def schedule_out(s: queue_pb2.Schedule) -> Schedule:
    return Schedule(schedule_id=s.schedule_id, poli=code_name_out(s.poli), doctor=code_name_out(s.doctor),
                    start=s.start, end=s.end, quota_jkn=s.quota_jkn, remaining_jkn=s.remaining_jkn,
                    quota_non_jkn=s.quota_non_jkn)


class Bookings(BaseModel):
    items: list[Booking]


class Alternative(BaseModel):
    """A session a patient displaced by the doctor's absence may move to (one reschedule call)."""

    schedule_id: str
    date: str = Field(description="YYYY-MM-DD")
    doctor: CodeName
    start: str = Field(description="HH:MM (Asia/Jakarta)")
    remaining_jkn: int


class BookingWithProgress(Booking):
    """A booking with its live queue position; `estimated_service_at` follows the day's actual pace."""

    now_serving: str | None = Field(description="the queue number being served; null before the first")
    ahead: int = Field(description="patients still waiting before this one")
    alternatives: list[Alternative] = Field(
        default_factory=list, description="for a booking cancelled `DOCTOR_ABSENT`: every session of the same "
        "facility and poli within 14 days with free seats, earliest first (empty otherwise)")


def booking_with_progress_out(reply: queue_pb2.GetBookingResponse) -> BookingWithProgress:
    progress = reply.progress
    booking = booking_out(reply.booking).model_dump(exclude={"estimated_service_at"})
    return BookingWithProgress(
        **booking, estimated_service_at=jakarta_iso(progress.estimated_service_at),
        now_serving=progress.now_serving if progress.HasField("now_serving") else None, ahead=progress.ahead,
        alternatives=[Alternative(schedule_id=a.schedule_id, date=a.date, doctor=code_name_out(a.doctor), start=a.start,
                                  remaining_jkn=a.remaining_jkn) for a in reply.alternatives])


class BookingRequest(BaseModel):
    schedule_id: str = Field(min_length=1, max_length=64, examples=["5f0c7a52-3d1e-4a8e-9d43-5b0f0b8f4a11"])
    date: dt.date = Field(examples=["2026-11-22"])
    noka: str | None = Field(None, pattern=r"^[0-9]{13}$", description="a family member; default: me",
                             examples=["0001234567803"])
    referral_number: str | None = Field(None, min_length=19, max_length=19, examples=["0114U0011126Y000001"])
    visit_type: Literal["FKTP_REFERRAL", "INTERNAL_REFERRAL", "CONTROL", "HOSPITAL_REFERRAL"] | None = None
    medical_record_number: str | None = Field(None, min_length=1, max_length=32, examples=["RM-000123"])


class RescheduleRequest(BaseModel):
    schedule_id: str = Field(min_length=1, max_length=64, examples=["5f0c7a52-3d1e-4a8e-9d43-5b0f0b8f4a11"])
    date: dt.date = Field(examples=["2026-11-23"])
    referral_number: str | None = Field(None, min_length=19, max_length=19, examples=["0114U0011126Y000001"],
                                        description="default: the old booking's, when hospital and poli are the same")


class CancelRequest(BaseModel):
    reason: str = Field("", max_length=200, examples=["Sudah sembuh"])


def _caller(principal: Principal, noka: str) -> queue_pb2.Caller:
    return queue_pb2.Caller(account_id=principal.account_id, noka=noka)


@router.get("/facilities/{code}/schedules", summary="Doctors' sessions at a facility on a date, with free JKN seats")
async def schedules(state: State, code: Annotated[str, Path(pattern=r"^[0-9A-Za-z]{8}$")],
                    date: Annotated[dt.date, Query(description="YYYY-MM-DD (Asia/Jakarta)")],
                    poli: Annotated[str | None, Query(max_length=8, pattern=r"^[0-9A-Za-z]+$")] = None,
                    ) -> Schedules:
    request = queue_pb2.ListSchedulesRequest(facility_code=code, date=date.isoformat())
    if poli:
        request.poli_code = poli
    reply = await state.queue.ListSchedules(request)
    return Schedules(items=[schedule_out(s) for s in reply.schedules])


async def create_booking(body: BookingRequest, principal: CurrentPrincipal, noka: CallerNoka, state: State,
                         idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                                       max_length=128)] = None,
                         ) -> Booking:
    request = queue_pb2.CreateBookingRequest(
        caller=_caller(principal, noka), schedule_id=body.schedule_id, date=body.date.isoformat(),
        visit_type=_VISIT_TYPES.get(body.visit_type or "", queue_pb2.VISIT_TYPE_UNSPECIFIED))
    for name in ("noka", "referral_number", "medical_record_number"):
        if getattr(body, name) is not None:
            setattr(request, name, getattr(body, name))
    if idempotency_key:
        request.idempotency_key = idempotency_key
    reply = await state.queue.CreateBooking(request, timeout=state.settings.booking_timeout_s)
    return booking_out(reply.booking)


# The 06:00 rush's route: a lean one (`lean.LeanRoute`), FastAPI's handler for what is not plainly valid.
router.add_api_route("/bookings", create_booking, methods=["POST"], status_code=201, dependencies=[BookingRateLimit],
                     route_class_override=LeanRoute,
                     summary="Take a queue number (the same Idempotency-Key: the same booking)")


@router.get("/bookings", summary="My bookings and those I made for my family")
async def list_bookings(principal: CurrentPrincipal, noka: CallerNoka, state: State) -> Bookings:
    reply = await state.queue.ListBookings(queue_pb2.ListBookingsRequest(caller=_caller(principal, noka)))
    return Bookings(items=[booking_out(b) for b in reply.bookings])


@router.get("/bookings/{booking_code}", summary="One booking with its live queue position")
async def get_booking(booking_code: BookingCode, principal: CurrentPrincipal, noka: CallerNoka,
                      state: State) -> BookingWithProgress:
    reply = await state.queue.GetBooking(queue_pb2.GetBookingRequest(caller=_caller(principal, noka),
                                                                     booking_code=booking_code))
    return booking_with_progress_out(reply)


@router.post("/bookings/{booking_code}/cancel", dependencies=[BookingRateLimit],
             summary="Cancel (until check-in); the seat is freed at once")
async def cancel_booking(booking_code: BookingCode, body: CancelRequest, principal: CurrentPrincipal,
                         noka: CallerNoka, state: State) -> Booking:
    reply = await state.queue.CancelBooking(queue_pb2.CancelBookingRequest(
        caller=_caller(principal, noka), booking_code=booking_code, reason=body.reason))
    return booking_out(reply.booking)


@router.post("/bookings/{booking_code}/reschedule", status_code=201, dependencies=[BookingRateLimit],
             summary="Move a booking to another session in one step (the old seat is freed only if the new one "
                     "is had; the same Idempotency-Key: the same new booking)")
async def reschedule_booking(booking_code: BookingCode, body: RescheduleRequest, principal: CurrentPrincipal,
                             noka: CallerNoka, state: State,
                             idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                                           max_length=128)] = None,
                             ) -> Booking:
    request = queue_pb2.RescheduleBookingRequest(caller=_caller(principal, noka), booking_code=booking_code,
                                                 schedule_id=body.schedule_id, date=body.date.isoformat())
    if body.referral_number is not None:
        request.referral_number = body.referral_number
    if idempotency_key:
        request.idempotency_key = idempotency_key
    reply = await state.queue.RescheduleBooking(request, timeout=state.settings.booking_timeout_s)
    return booking_out(reply.booking)

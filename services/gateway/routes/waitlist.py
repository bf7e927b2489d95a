"""The waitlist of a full session (CONTRACT.md §7 "Waitlist")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from jkn.queue.v1 import queue_pb2
from services.gateway.bearer import Principal
from services.gateway.deps import BookingRateLimit, CallerNoka, CurrentPrincipal, State
from services.gateway.models import Booking, CodeName, booking_out, code_name_out, utc_iso

router = APIRouter(prefix="/v1", tags=["queue"])
WaitlistId = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-fA-F-]{36}$")]
Status = Literal["WAITING", "OFFERED", "BOOKED", "EXPIRED", "CANCELLED"]
_STATUSES: dict[int, Status] = {
    queue_pb2.WAITLIST_STATUS_WAITING: "WAITING", queue_pb2.WAITLIST_STATUS_OFFERED: "OFFERED",
    queue_pb2.WAITLIST_STATUS_BOOKED: "BOOKED", queue_pb2.WAITLIST_STATUS_EXPIRED: "EXPIRED",
    queue_pb2.WAITLIST_STATUS_CANCELLED: "CANCELLED"}


class WaitlistEntry(BaseModel):
    """A place in a full session's line: first come, first served. A freed seat goes to the first
    `WAITING` entry — booked at once with `auto_accept`, else held for it until `offer_expires_at`."""

    waitlist_id: str
    status: Status
    position: int = Field(description="place among the session's waiting entries, from 1; 0 once not waiting")
    schedule_id: str
    date: str = Field(description="YYYY-MM-DD")
    noka: str
    auto_accept: bool
    facility: CodeName
    poli: CodeName
    doctor: CodeName
    offer_expires_at: str | None = Field(None, description="OFFERED: until when the seat is held (ISO 8601)")
    booking_code: str | None = Field(None, description="BOOKED: the booking made from the entry")
    end_reason: str | None = Field(None, description="why an entry ended: LEFT, OFFER_EXPIRED, DATE_PASSED, "
                                   "SESSION_CLOSED, NOT_ELIGIBLE")
    created_at: str


class WaitlistEntries(BaseModel):
    items: list[WaitlistEntry]


class JoinRequest(BaseModel):
    schedule_id: str = Field(min_length=1, max_length=64, examples=["5f0c7a52-3d1e-4a8e-9d43-5b0f0b8f4a11"])
    date: dt.date = Field(examples=["2026-11-22"])
    noka: str | None = Field(None, pattern=r"^[0-9]{13}$", description="a family member; default: me",
                             examples=["0001234567803"])
    referral_number: str | None = Field(None, min_length=19, max_length=19, examples=["0114U0011126Y000001"])
    auto_accept: bool = Field(True, description="book a freed seat at once (else: an offer to accept in time)")


def entry_out(e: queue_pb2.WaitlistEntry) -> WaitlistEntry:
    return WaitlistEntry(
        waitlist_id=e.waitlist_id, status=_STATUSES[e.status], position=e.position, schedule_id=e.schedule_id,
        date=e.date, noka=e.noka,
        auto_accept=e.auto_accept, facility=code_name_out(e.facility), poli=code_name_out(e.poli),
        doctor=code_name_out(e.doctor),
        offer_expires_at=utc_iso(e.offer_expires_at) if e.HasField("offer_expires_at") else None,
        booking_code=e.booking_code if e.HasField("booking_code") else None,
        end_reason=e.end_reason if e.HasField("end_reason") else None, created_at=utc_iso(e.created_at))


def _caller(principal: Principal, noka: str) -> queue_pb2.Caller:
    return queue_pb2.Caller(account_id=principal.account_id, noka=noka)


@router.post("/waitlist", status_code=201, dependencies=[BookingRateLimit],
             summary="Join a full session's waitlist (a freed seat goes to the first in line)")
async def join_waitlist(body: JoinRequest, principal: CurrentPrincipal, noka: CallerNoka,
                        state: State) -> WaitlistEntry:
    request = queue_pb2.JoinWaitlistRequest(caller=_caller(principal, noka), schedule_id=body.schedule_id,
                                            date=body.date.isoformat(), auto_accept=body.auto_accept)
    if body.noka is not None:
        request.noka = body.noka
    if body.referral_number is not None:
        request.referral_number = body.referral_number
    reply = await state.queue.JoinWaitlist(request, timeout=state.settings.booking_timeout_s)
    return entry_out(reply.entry)


@router.get("/waitlist", summary="My waitlist entries and those I made for my family, with live positions")
async def list_waitlist(principal: CurrentPrincipal, noka: CallerNoka, state: State) -> WaitlistEntries:
    reply = await state.queue.ListWaitlist(queue_pb2.ListWaitlistRequest(caller=_caller(principal, noka)))
    return WaitlistEntries(items=[entry_out(e) for e in reply.entries])


@router.delete("/waitlist/{waitlist_id}", status_code=204, dependencies=[BookingRateLimit],
               summary="Leave the waitlist (a seat held for me passes to the next in line)")
async def leave_waitlist(waitlist_id: WaitlistId, principal: CurrentPrincipal, noka: CallerNoka,
                         state: State) -> Response:
    await state.queue.LeaveWaitlist(queue_pb2.LeaveWaitlistRequest(caller=_caller(principal, noka),
                                                                   waitlist_id=waitlist_id.lower()))
    return Response(status_code=204)


@router.post("/waitlist/{waitlist_id}/accept", status_code=201, dependencies=[BookingRateLimit],
             summary="Take the seat offered from the waitlist (before `offer_expires_at`)")
async def accept_offer(waitlist_id: WaitlistId, principal: CurrentPrincipal, noka: CallerNoka,
                       state: State) -> Booking:
    reply = await state.queue.AcceptWaitlistOffer(queue_pb2.AcceptWaitlistOfferRequest(
        caller=_caller(principal, noka), waitlist_id=waitlist_id.lower()), timeout=state.settings.booking_timeout_s)
    return booking_out(reply.booking)

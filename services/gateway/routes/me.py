"""The logged-in participant: account, membership, card, bills, payments, FKTP (CONTRACT.md §4)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from jkn.auth.v1 import auth_pb2
from jkn.membership.v1 import membership_pb2
from services.gateway.deps import CallerNoka, CurrentPrincipal, State
from services.gateway.routes.enrollments import client_context, otp_out

router = APIRouter(prefix="/v1/me", tags=["me"])


class Me(BaseModel):
    account_id: str
    noka: str
    name: str
    phone_masked: str
    email_masked: str
    email_verified: bool
    pin_set: bool


class Facility(BaseModel):
    code: str
    name: str


class ParticipantOut(BaseModel):
    noka: str
    nik_masked: str
    name: str
    birth_date: str
    sex: Literal["M", "F"]
    relation: str
    segment: str
    class_: int = Field(serialization_alias="class")
    status: Literal["AKTIF", "TIDAK_AKTIF"]
    status_reason: str | None
    fktp: Facility


class Membership(BaseModel):
    participant: ParticipantOut
    family: list[ParticipantOut]
    all_family_active: bool


def participant_out(p: membership_pb2.Participant) -> ParticipantOut:
    return ParticipantOut(
        noka=p.noka, nik_masked=p.nik_masked, name=p.name, birth_date=p.birth_date,
        sex="F" if p.sex == membership_pb2.SEX_FEMALE else "M",
        relation=membership_pb2.Relation.Name(p.relation).removeprefix("RELATION_"),
        segment=membership_pb2.Segment.Name(p.segment).removeprefix("SEGMENT_"), class_=p.care_class,
        status=membership_pb2.ParticipantStatus.Name(p.status).removeprefix("PARTICIPANT_STATUS_"),
        status_reason=membership_pb2.StatusReason.Name(p.status_reason).removeprefix("STATUS_REASON_")
        if p.status_reason else None,
        fktp=Facility(code=p.fktp.code, name=p.fktp.name))


@router.get("", response_model=Me)
async def me(principal: CurrentPrincipal, state: State) -> Me:
    account = (await state.auth.GetAccount(auth_pb2.GetAccountRequest(account_id=principal.account_id))).account
    return Me(account_id=account.account_id, noka=account.noka, name=account.name, phone_masked=account.phone_masked,
              email_masked=account.email_masked, email_verified=account.email_verified, pin_set=account.pin_set)


@router.get("/membership", response_model=Membership, response_model_by_alias=True,
            summary="Me and my family, and whether all of us are covered")
async def membership(noka: CallerNoka, state: State) -> Membership:
    reply = await state.membership.GetMembership(membership_pb2.GetMembershipRequest(noka=noka))
    return Membership(participant=participant_out(reply.participant),
                      family=[participant_out(m) for m in reply.family], all_family_active=reply.all_family_active)


@router.get("/card", summary="The digital card; its signature verifies against /v1/card-keys")
async def card(noka: CallerNoka, state: State) -> dict[str, object]:
    c = (await state.membership.GetCard(membership_pb2.GetCardRequest(noka=noka))).card
    return {"noka": c.noka, "name": c.name, "birth_date": c.birth_date, "class": c.care_class,
            "segment": membership_pb2.Segment.Name(c.segment).removeprefix("SEGMENT_"),
            "fktp": {"code": c.fktp.code, "name": c.fktp.name}, "qr_payload": c.qr_payload,
            "signature": c.signature, "key_id": c.key_id,
            "expires_at": c.expires_at.ToDatetime(tzinfo=UTC).isoformat()}


@router.get("/bills", summary="Monthly premiums of my family and the arrears")
async def bills(noka: CallerNoka, state: State) -> dict[str, object]:
    reply = await state.membership.ListBills(membership_pb2.ListBillsRequest(noka=noka))
    return {"arrears_total": reply.arrears_total_idr, "bills": [
        {"period": b.period, "amount": b.amount_idr,
         "status": membership_pb2.BillStatus.Name(b.status).removeprefix("BILL_STATUS_"), "due_date": b.due_date}
        for b in reply.bills]}


class PaymentRequest(BaseModel):
    periods: list[str] = Field(default_factory=list, max_length=36, examples=[["2026-09", "2026-10"]])


@router.post("/payments", status_code=201, summary="A virtual account for chosen (or all) unpaid months")
async def pay(body: PaymentRequest, noka: CallerNoka, state: State) -> dict[str, object]:
    p = (await state.membership.CreatePayment(membership_pb2.CreatePaymentRequest(noka=noka,
                                                                                   periods=body.periods))).payment
    return {"payment_id": p.payment_id, "virtual_account": p.virtual_account, "amount": p.amount_idr,
            "expires_at": p.expires_at.ToDatetime(tzinfo=UTC).isoformat()}


class FktpRequest(BaseModel):
    facility_code: str = Field(pattern=r"^[0-9A-Za-z]{8}$", examples=["0114U002"])


@router.put("/fktp", status_code=202, summary="Change my FKTP (once per 3 months, from the 1st of next month)")
async def change_fktp(body: FktpRequest, noka: CallerNoka, state: State) -> dict[str, str]:
    reply = await state.membership.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(
        noka=noka, facility_code=body.facility_code))
    return {"effective_date": reply.change.effective_date}


class PinRequest(BaseModel):
    pin: str = Field(pattern=r"^[0-9]{6}$", examples=["240817"])
    password: str = Field(min_length=1, max_length=128, examples=["Sehat#2026"])


@router.put("/pin", status_code=204, summary="Set or change my 6-digit PIN (the password confirms it)")
async def set_pin(body: PinRequest, principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.SetPin(auth_pb2.SetPinRequest(account_id=principal.account_id, pin=body.pin,
                                                   password=body.password))
    return Response(status_code=204)


class EmailCode(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$", examples=["482913"])


@router.post("/email/verify", status_code=204, summary="Verify my email with the code sent there at activation")
async def verify_email(body: EmailCode, principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.VerifyEmail(auth_pb2.VerifyEmailRequest(account_id=principal.account_id, code=body.code))
    return Response(status_code=204)


class EmailChange(BaseModel):
    new_email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                           examples=["dewi.baru@example.id"])
    pin: str = Field(pattern=r"^[0-9]{6}$", examples=["240817"])


class PhoneChange(BaseModel):
    new_phone: str = Field(min_length=8, max_length=20, examples=["081299990006"])
    pin: str = Field(pattern=r"^[0-9]{6}$", examples=["240817"])


def change_started(reply) -> dict[str, object]:
    return {"change_id": reply.change_id, "otp": otp_out(reply.otp).model_dump()}


@router.post("/email-changes", status_code=202, summary="Change my email: PIN, then a code to the new address")
async def start_email_change(body: EmailChange, principal: CurrentPrincipal, state: State,
                             request: Request) -> dict[str, object]:
    return change_started(await state.auth.StartEmailChange(auth_pb2.StartEmailChangeRequest(
        account_id=principal.account_id, new_email=body.new_email, pin=body.pin, client=client_context(request))))


@router.post("/email-changes/{change_id}/verify", status_code=204, summary="The old address is told")
async def verify_email_change(change_id: Annotated[str, Path(max_length=64)], body: EmailCode,
                              principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.VerifyEmailChange(auth_pb2.VerifyEmailChangeRequest(
        account_id=principal.account_id, change_id=change_id, code=body.code))
    return Response(status_code=204)


@router.post("/phone-changes", status_code=202, summary="Change my phone: PIN, then a code by SMS to the new number")
async def start_phone_change(body: PhoneChange, principal: CurrentPrincipal, state: State,
                             request: Request) -> dict[str, object]:
    return change_started(await state.auth.StartPhoneChange(auth_pb2.StartPhoneChangeRequest(
        account_id=principal.account_id, new_phone=body.new_phone, pin=body.pin, client=client_context(request))))


@router.post("/phone-changes/{change_id}/verify", status_code=204, summary="The old number is told")
async def verify_phone_change(change_id: Annotated[str, Path(max_length=64)], body: EmailCode,
                              principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.VerifyPhoneChange(auth_pb2.VerifyPhoneChangeRequest(
        account_id=principal.account_id, change_id=change_id, code=body.code))
    return Response(status_code=204)


@router.get("/sessions", summary="My active sessions (devices)")
async def sessions(principal: CurrentPrincipal, state: State) -> dict[str, object]:
    reply = await state.auth.ListSessions(auth_pb2.ListSessionsRequest(account_id=principal.account_id,
                                                                       session_id=principal.session_id))
    return {"items": [{"session_id": s.session_id, "user_agent": s.user_agent, "current": s.current,
                       "created_at": s.created_at.ToDatetime(tzinfo=UTC).isoformat(),
                       "last_used_at": s.last_used_at.ToDatetime(tzinfo=UTC).isoformat()} for s in reply.sessions]}


@router.delete("/sessions/{session_id}", status_code=204, summary="End one of my sessions")
async def end_session(session_id: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal,
                      state: State) -> Response:
    await state.auth.RevokeSession(auth_pb2.RevokeSessionRequest(account_id=principal.account_id,
                                                                 session_id=session_id))
    return Response(status_code=204)

"""The logged-in participant: account, membership, card, bills, payments, FKTP (CONTRACT.md §4)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from jkn.auth.v1 import auth_pb2
from jkn.membership.v1 import membership_pb2
from services.gateway.deps import CallerNoka, Client, CurrentPrincipal, State, membership_stamp
from services.gateway.lean import LeanRoute
from services.gateway.models import (
    CodeName,
    Otp,
    OtpCode,
    Password,
    Payment,
    code_name_out,
    otp_out,
    participant_status,
    payment_out,
    status_reason,
    utc_iso,
)
from services.gateway.state import GatewayState

router = APIRouter(prefix="/v1/me", tags=["me"])
#: A 6-digit PIN (the weak-PIN rules are auth's).
Pin = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["240817"])]
ChangeId = Annotated[str, Path(max_length=64)]


def _segment(segment: membership_pb2.Segment.ValueType) -> str:
    return membership_pb2.Segment.Name(segment).removeprefix("SEGMENT_")


class Me(BaseModel):
    account_id: str
    noka: str
    name: str
    phone_masked: str
    email_masked: str
    email_verified: bool
    pin_set: bool


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
    fktp: CodeName


def participant_out(p: membership_pb2.Participant) -> ParticipantOut:
    return ParticipantOut(
        noka=p.noka, nik_masked=p.nik_masked, name=p.name, birth_date=p.birth_date,
        sex="F" if p.sex == membership_pb2.SEX_FEMALE else "M",
        relation=membership_pb2.Relation.Name(p.relation).removeprefix("RELATION_"),
        segment=_segment(p.segment), class_=p.care_class, status=participant_status(p.status),
        status_reason=status_reason(p.status_reason), fktp=code_name_out(p.fktp))


class Membership(BaseModel):
    participant: ParticipantOut
    family: list[ParticipantOut]
    all_family_active: bool


class Card(BaseModel):
    noka: str
    name: str
    birth_date: str
    class_: int = Field(serialization_alias="class")
    segment: str
    fktp: CodeName
    qr_payload: str
    signature: str = Field(description="verifies against GET /v1/card-keys")
    key_id: str
    expires_at: str


class Bill(BaseModel):
    period: str = Field(description="YYYY-MM")
    amount: int
    status: Literal["UNPAID", "PAID"]
    due_date: str


class Bills(BaseModel):
    arrears_total: int
    bills: list[Bill]


class PaymentRequest(BaseModel):
    periods: list[str] = Field(default_factory=list, max_length=36, examples=[["2026-09", "2026-10"]])


class FktpRequest(BaseModel):
    facility_code: str = Field(pattern=r"^[0-9A-Za-z]{8}$", examples=["0114U002"])


class FktpChangeAccepted(BaseModel):
    effective_date: str = Field(description="YYYY-MM-DD, the 1st of next month")


class PinRequest(BaseModel):
    pin: Pin
    password: Password


class EmailChange(BaseModel):
    new_email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                           examples=["dewi.baru@example.id"])
    pin: Pin


class PhoneChange(BaseModel):
    new_phone: str = Field(min_length=8, max_length=20, examples=["081299990006"])
    pin: Pin


class ChangeStarted(BaseModel):
    """An email or phone change waiting for the code sent to the new address."""

    change_id: str
    otp: Otp


def change_started(reply: auth_pb2.StartEmailChangeResponse | auth_pb2.StartPhoneChangeResponse) -> ChangeStarted:
    return ChangeStarted(change_id=reply.change_id, otp=otp_out(reply.otp))


class SessionItem(BaseModel):
    session_id: str
    user_agent: str
    current: bool
    created_at: str
    last_used_at: str


class Sessions(BaseModel):
    items: list[SessionItem]


@router.get("")
async def me(principal: CurrentPrincipal, state: State) -> Me:
    account = (await state.auth.GetAccount(auth_pb2.GetAccountRequest(account_id=principal.account_id))).account
    return Me(account_id=account.account_id, noka=account.noka, name=account.name, phone_masked=account.phone_masked,
              email_masked=account.email_masked, email_verified=account.email_verified, pin_set=account.pin_set)


async def membership(request: Request, noka: CallerNoka) -> Response:
    """Served from the gateway's cache while the participant's stamp is unchanged (`reads`). The
    busiest route: a lean one (`lean.LeanRoute`), the state taken from the request."""
    state: GatewayState = request.app.state.gateway
    stamp = membership_stamp(request)
    body = state.membership_reads.get(noka, stamp)
    if body is None:
        reply = await state.membership.GetMembership(membership_pb2.GetMembershipRequest(noka=noka))
        body = Membership(participant=participant_out(reply.participant),
                          family=[participant_out(m) for m in reply.family],
                          all_family_active=reply.all_family_active).model_dump_json(by_alias=True).encode()
        state.membership_reads.put(noka, stamp, body)
    return Response(body, media_type="application/json")


router.add_api_route("/membership", membership, methods=["GET"], response_model=Membership,
                     response_model_by_alias=True, route_class_override=LeanRoute,
                     summary="Me and my family, and whether all of us are covered")


@router.get("/card", summary="The digital card; its signature verifies against /v1/card-keys")
async def card(noka: CallerNoka, state: State) -> Card:
    c = (await state.membership.GetCard(membership_pb2.GetCardRequest(noka=noka))).card
    return Card(noka=c.noka, name=c.name, birth_date=c.birth_date, class_=c.care_class, segment=_segment(c.segment),
                fktp=code_name_out(c.fktp), qr_payload=c.qr_payload, signature=c.signature, key_id=c.key_id,
                expires_at=utc_iso(c.expires_at))


@router.get("/bills", summary="Monthly premiums of my family and the arrears")
async def bills(noka: CallerNoka, state: State) -> Bills:
    reply = await state.membership.ListBills(membership_pb2.ListBillsRequest(noka=noka))
    return Bills(arrears_total=reply.arrears_total_idr, bills=[
        Bill(period=b.period, amount=b.amount_idr,
             status=membership_pb2.BillStatus.Name(b.status).removeprefix("BILL_STATUS_"), due_date=b.due_date)
        for b in reply.bills])


@router.post("/payments", status_code=201, summary="A virtual account for chosen (or all) unpaid months")
async def pay(body: PaymentRequest, noka: CallerNoka, state: State) -> Payment:
    reply = await state.membership.CreatePayment(membership_pb2.CreatePaymentRequest(noka=noka, periods=body.periods))
    return payment_out(reply.payment)


@router.put("/fktp", status_code=202, summary="Change my FKTP (once per 3 months, from the 1st of next month)")
async def change_fktp(body: FktpRequest, noka: CallerNoka, state: State) -> FktpChangeAccepted:
    reply = await state.membership.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(
        noka=noka, facility_code=body.facility_code))
    return FktpChangeAccepted(effective_date=reply.change.effective_date)


@router.put("/pin", status_code=204, summary="Set or change my 6-digit PIN (the password confirms it)")
async def set_pin(body: PinRequest, principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.SetPin(auth_pb2.SetPinRequest(account_id=principal.account_id, pin=body.pin,
                                                   password=body.password))
    return Response(status_code=204)


@router.post("/email/verify", status_code=204, summary="Verify my email with the code sent there at activation")
async def verify_email(body: OtpCode, principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.VerifyEmail(auth_pb2.VerifyEmailRequest(account_id=principal.account_id, code=body.code))
    return Response(status_code=204)


class EmailCodeSent(BaseModel):
    otp: Otp


@router.post("/email/resend", status_code=202,
             summary="Send my email verification code again (the same while valid, a fresh one once expired)")
async def resend_email_code(principal: CurrentPrincipal, state: State, client: Client) -> EmailCodeSent:
    reply = await state.auth.ResendEmailVerification(auth_pb2.ResendEmailVerificationRequest(
        account_id=principal.account_id, client=client))
    return EmailCodeSent(otp=otp_out(reply.otp))


@router.post("/email-changes", status_code=202, summary="Change my email: PIN, then a code to the new address")
async def start_email_change(body: EmailChange, principal: CurrentPrincipal, state: State,
                             client: Client) -> ChangeStarted:
    return change_started(await state.auth.StartEmailChange(auth_pb2.StartEmailChangeRequest(
        account_id=principal.account_id, new_email=body.new_email, pin=body.pin, client=client)))


@router.post("/email-changes/{change_id}/verify", status_code=204, summary="The old address is told")
async def verify_email_change(change_id: ChangeId, body: OtpCode, principal: CurrentPrincipal,
                              state: State) -> Response:
    await state.auth.VerifyEmailChange(auth_pb2.VerifyEmailChangeRequest(
        account_id=principal.account_id, change_id=change_id, code=body.code))
    return Response(status_code=204)


@router.post("/phone-changes", status_code=202, summary="Change my phone: PIN, then a code by SMS to the new number")
async def start_phone_change(body: PhoneChange, principal: CurrentPrincipal, state: State,
                             client: Client) -> ChangeStarted:
    return change_started(await state.auth.StartPhoneChange(auth_pb2.StartPhoneChangeRequest(
        account_id=principal.account_id, new_phone=body.new_phone, pin=body.pin, client=client)))


@router.post("/phone-changes/{change_id}/verify", status_code=204, summary="The old number is told")
async def verify_phone_change(change_id: ChangeId, body: OtpCode, principal: CurrentPrincipal,
                              state: State) -> Response:
    await state.auth.VerifyPhoneChange(auth_pb2.VerifyPhoneChangeRequest(
        account_id=principal.account_id, change_id=change_id, code=body.code))
    return Response(status_code=204)


@router.get("/sessions", summary="My active sessions (devices)")
async def sessions(principal: CurrentPrincipal, state: State) -> Sessions:
    reply = await state.auth.ListSessions(auth_pb2.ListSessionsRequest(account_id=principal.account_id,
                                                                       session_id=principal.session_id))
    return Sessions(items=[SessionItem(session_id=s.session_id, user_agent=s.user_agent, current=s.current,
                                       created_at=utc_iso(s.created_at), last_used_at=utc_iso(s.last_used_at))
                           for s in reply.sessions])


@router.delete("/sessions/{session_id}", status_code=204, summary="End one of my sessions")
async def end_session(session_id: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal,
                      state: State) -> Response:
    await state.auth.RevokeSession(auth_pb2.RevokeSessionRequest(account_id=principal.account_id,
                                                                 session_id=session_id))
    return Response(status_code=204)

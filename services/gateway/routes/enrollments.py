"""New participant enrolment for a self-paying family (CONTRACT.md §4)."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2
from services.gateway.deps import AccountRateLimit, State
from services.gateway.problems import language

router = APIRouter(prefix="/v1/enrollments", tags=["enrolment"], dependencies=[AccountRateLimit])
_SEX = {"M": membership_pb2.SEX_MALE, "F": membership_pb2.SEX_FEMALE}


class Member(BaseModel):
    nik: str = Field(pattern=r"^[0-9]{16}$", examples=["3171016512900001"])
    name: str = Field(min_length=1, max_length=100, examples=["RINA MARLINA"])
    birth_date: date
    sex: Literal["M", "F"]
    relation: Literal["HEAD", "SPOUSE", "CHILD", "OTHER"]


class EnrollmentRequest(BaseModel):
    kk_number: str = Field(pattern=r"^[0-9]{16}$", examples=["3171010101260099"])
    address: str = Field(min_length=5, max_length=300, examples=["Jl. Cikini Raya No. 99, Jakarta Pusat"])
    phone: str = Field(min_length=8, max_length=20, examples=["081234567890"])
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                       examples=["keluarga.baru@example.id"])
    class_: Literal[1, 2, 3] = Field(alias="class", examples=[3])
    fktp_code: str = Field(pattern=r"^[0-9A-Za-z]{8}$", examples=["0114U001"])
    members: list[Member] = Field(min_length=1, max_length=10)


class Otp(BaseModel):
    channel: Literal["sms", "email"]
    destination_masked: str
    expires_in: int
    resend_after: int


class EnrollmentStarted(BaseModel):
    enrollment_id: str
    otp: Otp


class VerifyRequest(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$", examples=["482913"])


class EnrolledParticipant(BaseModel):
    noka: str
    name: str
    status: Literal["AKTIF", "TIDAK_AKTIF"]
    status_reason: str | None


class PaymentOut(BaseModel):
    payment_id: str
    virtual_account: str
    amount: int
    expires_at: str


class Enrolled(BaseModel):
    participants: list[EnrolledParticipant]
    payment: PaymentOut


def client_context(request: Request) -> common_pb2.ClientContext:
    return common_pb2.ClientContext(
        client_ip=request.client.host if request.client else "", user_agent=request.headers.get("user-agent", "")[:200],
        language=common_pb2.LANGUAGE_EN if language(request) == "en" else common_pb2.LANGUAGE_ID)


def otp_out(challenge: common_pb2.OtpChallenge) -> Otp:
    return Otp(channel="email" if challenge.channel == common_pb2.CHANNEL_EMAIL else "sms",
               destination_masked=challenge.destination_masked, expires_in=challenge.expires_in_s,
               resend_after=challenge.resend_after_s)


@router.post("", status_code=201, response_model=EnrollmentStarted,
             summary="Apply for a new self-paying family; a code goes by SMS to the phone")
async def start(body: EnrollmentRequest, state: State, request: Request) -> EnrollmentStarted:
    reply = await state.membership.StartEnrollment(membership_pb2.StartEnrollmentRequest(
        kk_number=body.kk_number, address=body.address, phone=body.phone, email=body.email, care_class=body.class_,
        fktp_code=body.fktp_code, client=client_context(request), members=[
            membership_pb2.EnrollmentMember(nik=m.nik, name=m.name, birth_date=m.birth_date.isoformat(),
                                            sex=_SEX[m.sex], relation=membership_pb2.Relation.Value(
                                                f"RELATION_{m.relation}"))
            for m in body.members]))
    return EnrollmentStarted(enrollment_id=reply.enrollment_id, otp=otp_out(reply.otp))


@router.post("/{enrollment_id}/verify", status_code=201, response_model=Enrolled,
             summary="Verify the SMS code: members get their NOKA and a first payment to make")
async def verify(enrollment_id: Annotated[str, Path(max_length=64)], body: VerifyRequest, state: State,
                 request: Request) -> Enrolled:
    reply = await state.membership.CompleteEnrollment(membership_pb2.CompleteEnrollmentRequest(
        enrollment_id=enrollment_id, code=body.code, client=client_context(request)))
    return Enrolled(
        participants=[EnrolledParticipant(
            noka=p.noka, name=p.name,
            status=membership_pb2.ParticipantStatus.Name(p.status).removeprefix("PARTICIPANT_STATUS_"),
            status_reason=membership_pb2.StatusReason.Name(p.status_reason).removeprefix("STATUS_REASON_")
            if p.status_reason else None) for p in reply.participants],
        payment=PaymentOut(payment_id=reply.payment.payment_id, virtual_account=reply.payment.virtual_account,
                           amount=reply.payment.amount_idr,
                           expires_at=reply.payment.expires_at.ToDatetime(tzinfo=UTC).isoformat()))

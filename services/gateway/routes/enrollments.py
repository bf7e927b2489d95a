"""New participant enrolment for a self-paying family (CONTRACT.md §4)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from jkn.membership.v1 import membership_pb2
from services.gateway import captcha
from services.gateway.deps import AccountRateLimit, Client, State
from services.gateway.models import Otp, OtpCode, Payment, otp_out, participant_status, payment_out, status_reason

router = APIRouter(prefix="/v1/enrollments", tags=["enrolment"], dependencies=[AccountRateLimit])
_SEX = {"M": membership_pb2.SEX_MALE, "F": membership_pb2.SEX_FEMALE}


class Member(BaseModel):
    nik: str = Field(pattern=r"^[0-9]{16}$", examples=["3171016512900001"])
    name: str = Field(min_length=1, max_length=100, examples=["RINA MARLINA"])
    birth_date: date
    sex: Literal["M", "F"]
    relation: Literal["HEAD", "SPOUSE", "CHILD", "OTHER"]


class EnrollmentRequest(BaseModel):
    captcha_id: str | None = Field(None, max_length=64, description="from GET /v1/captcha (required when on)")
    captcha_answer: str | None = Field(None, max_length=16)
    kk_number: str = Field(pattern=r"^[0-9]{16}$", examples=["3171010101260099"])
    address: str = Field(min_length=5, max_length=300, examples=["Jl. Cikini Raya No. 99, Jakarta Pusat"])
    phone: str = Field(min_length=8, max_length=20, examples=["081234567890"])
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                       examples=["keluarga.baru@example.id"])
    class_: Literal[1, 2, 3] = Field(alias="class", examples=[3])
    fktp_code: str = Field(pattern=r"^[0-9A-Za-z]{8}$", examples=["0114U001"])
    members: list[Member] = Field(min_length=1, max_length=10)


class EnrollmentStarted(BaseModel):
    enrollment_id: str
    otp: Otp


class EnrolledParticipant(BaseModel):
    noka: str
    name: str
    status: Literal["AKTIF", "TIDAK_AKTIF"]
    status_reason: str | None


class Enrolled(BaseModel):
    participants: list[EnrolledParticipant]
    payment: Payment


def enrolled_out(reply: membership_pb2.CompleteEnrollmentResponse) -> Enrolled:
    return Enrolled(
        participants=[EnrolledParticipant(noka=p.noka, name=p.name, status=participant_status(p.status),
                                          status_reason=status_reason(p.status_reason))
                      for p in reply.participants],
        payment=payment_out(reply.payment))


@router.post("", status_code=201, summary="Apply for a new self-paying family; a code goes by SMS to the phone")
async def start(body: EnrollmentRequest, state: State, client: Client) -> EnrollmentStarted:
    passed = await captcha.passed(state.redis, body.captcha_id, body.captcha_answer)
    reply = await state.membership.StartEnrollment(membership_pb2.StartEnrollmentRequest(
        kk_number=body.kk_number, address=body.address, phone=body.phone, email=body.email, care_class=body.class_,
        fktp_code=body.fktp_code, client=client, captcha_passed=passed, members=[
            membership_pb2.EnrollmentMember(nik=m.nik, name=m.name, birth_date=m.birth_date.isoformat(),
                                            sex=_SEX[m.sex], relation=membership_pb2.Relation.Value(
                                                f"RELATION_{m.relation}"))
            for m in body.members]))
    return EnrollmentStarted(enrollment_id=reply.enrollment_id, otp=otp_out(reply.otp))


@router.post("/{enrollment_id}/verify", status_code=201,
             summary="Verify the SMS code: members get their NOKA and a first payment to make")
async def verify(enrollment_id: Annotated[str, Path(max_length=64)], body: OtpCode, state: State,
                 client: Client) -> Enrolled:
    reply = await state.membership.CompleteEnrollment(membership_pb2.CompleteEnrollmentRequest(
        enrollment_id=enrollment_id, code=body.code, client=client))
    return enrolled_out(reply)

"""Account activation and sessions (CONTRACT.md §4)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from jkn.auth.v1 import auth_pb2
from jkn.common.v1 import common_pb2
from services.gateway import captcha
from services.gateway.deps import AccountRateLimit, Client, CurrentPrincipal, State
from services.gateway.models import Code, Otp, OtpCode, Password, otp_out

router = APIRouter(prefix="/v1", tags=["accounts"], dependencies=[AccountRateLimit])
_bearer = HTTPBearer(auto_error=False)


class Captcha(BaseModel):
    captcha_id: str
    image: str = Field(description="PNG as a data URL")


class RegistrationRequest(BaseModel):
    captcha_id: str | None = Field(None, max_length=64, description="from GET /v1/captcha (required when on)")
    captcha_answer: str | None = Field(None, max_length=16)
    identifier: str = Field(pattern=r"^([0-9]{16}|[0-9]{13})$", description="NIK (16 digits) or NOKA (13 digits)",
                            examples=["3171011501800001"])
    birth_date: date = Field(examples=["1980-01-15"])
    phone: str = Field(min_length=8, max_length=20, examples=["081234500001"])
    email: str = Field("", max_length=254, examples=["budi@example.id"])
    password: Password


class RegistrationStarted(BaseModel):
    registration_id: str
    status: str
    otp: Otp


class OtpResent(Otp):
    """The same code again: seconds until it expires and until the next resend, where it went."""


class ResendRequest(BaseModel):
    channel: Literal["sms", "email"] | None = Field(
        None, description="`email`: the same code to the registration's email (e.g. when the SMS `FAILED`)")


class Registration(BaseModel):
    registration_id: str
    status: Literal["PENDING_VERIFICATION", "COMPLETED", "EXPIRED"]
    otp: Otp | None = Field(description="the code's latest send; null once the code is forgotten")


_RESEND_CHANNELS = {"sms": common_pb2.CHANNEL_SMS, "email": common_pb2.CHANNEL_EMAIL}


class Activated(BaseModel):
    account_id: str


class SessionRequest(BaseModel):
    captcha_id: str | None = Field(None, max_length=64, description="from GET /v1/captcha, after 3 failures")
    captcha_answer: str | None = Field(None, max_length=16)
    identifier: str = Field(min_length=1, max_length=254, description="NIK, NOKA or email",
                            examples=["dewi.lestari@example.id"])
    password: Password


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200, examples=["q2V8n4rKQb0m1yZlTqVbq0dM8v2wXgGf3n9Rk1cAa7E"])


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def tokens_out(pair: auth_pb2.TokenPair) -> Tokens:
    return Tokens(access_token=pair.access_token, refresh_token=pair.refresh_token, token_type=pair.token_type,
                  expires_in=pair.expires_in_s)


class ResetRequest(BaseModel):
    captcha_id: str | None = Field(None, max_length=64, description="from GET /v1/captcha (required when on)")
    captcha_answer: str | None = Field(None, max_length=16)
    identifier: str = Field(min_length=1, max_length=254, description="NIK, NOKA or email",
                            examples=["0004567890006"])


class ResetStarted(BaseModel):
    reset_id: str


class ResetCompletion(BaseModel):
    code: Code
    new_password: str = Field(min_length=1, max_length=128, examples=["Baru#Sehat2027"])


@router.get("/captcha", summary="An image captcha (5 minutes, single use): registration, password reset, "
                                 "enrolment, repeated logins")
async def new_captcha(state: State) -> Captcha:
    captcha_id, image = await captcha.new_captcha(state.redis)
    return Captcha(captcha_id=captcha_id, image=image)


@router.post("/registrations", status_code=201, tags=["accounts"],
             summary="Activate an account for an existing participant; a code goes by SMS")
async def register(body: RegistrationRequest, state: State, client: Client) -> RegistrationStarted:
    reply = await state.auth.StartRegistration(auth_pb2.StartRegistrationRequest(
        identifier=body.identifier, birth_date=body.birth_date.isoformat(), phone=body.phone, email=body.email,
        password=body.password, client=client,
        captcha_passed=await captcha.passed(state.redis, body.captcha_id, body.captcha_answer)))
    return RegistrationStarted(registration_id=reply.registration_id, status="PENDING_VERIFICATION",
                               otp=otp_out(reply.otp))


#: Reads the app polls (no guesses to count: the ids are random), outside the account routes' per-IP limit.
polls = APIRouter(prefix="/v1", tags=["accounts"])


@polls.get("/registrations/{registration_id}", summary="A registration and its code's delivery status "
                                                      "(poll it to learn that the SMS `FAILED`)")
async def registration(registration_id: Annotated[str, Path(max_length=64)], state: State) -> Registration:
    reply = await state.auth.GetRegistration(auth_pb2.GetRegistrationRequest(registration_id=registration_id))
    return Registration(registration_id=reply.registration_id,
                        status=cast(Any, auth_pb2.RegistrationStatus.Name(reply.status).removeprefix(
                            "REGISTRATION_STATUS_")),
                        otp=otp_out(reply.otp) if reply.HasField("otp") else None)


@router.post("/registrations/{registration_id}/otp/resend", status_code=202,
             summary="The same code again, by SMS or (`{channel: \"email\"}`) to the registration's email")
async def resend(registration_id: Annotated[str, Path(max_length=64)], state: State, client: Client,
                 body: Annotated[ResendRequest | None, Body()] = None) -> OtpResent:
    channel = _RESEND_CHANNELS.get(body.channel or "") if body else None
    reply = await state.auth.ResendRegistrationOtp(auth_pb2.ResendRegistrationOtpRequest(
        registration_id=registration_id, client=client, channel=channel or common_pb2.CHANNEL_UNSPECIFIED))
    return OtpResent(**otp_out(reply.otp).model_dump())


@router.post("/registrations/{registration_id}/verify", status_code=201)
async def verify(registration_id: Annotated[str, Path(max_length=64)], body: OtpCode, state: State,
                 client: Client) -> Activated:
    reply = await state.auth.VerifyRegistration(auth_pb2.VerifyRegistrationRequest(
        registration_id=registration_id, code=body.code, client=client))
    return Activated(account_id=reply.account_id)


@router.post("/sessions", status_code=201, tags=["sessions"], summary="Log in with NIK, NOKA or email")
async def login(body: SessionRequest, state: State, client: Client) -> Tokens:
    reply = await state.auth.Login(auth_pb2.LoginRequest(
        identifier=body.identifier, password=body.password, client=client,
        captcha_passed=await captcha.passed(state.redis, body.captcha_id, body.captcha_answer)))
    return tokens_out(reply.tokens)


@router.post("/sessions/refresh", status_code=201, tags=["sessions"])
async def refresh(body: RefreshRequest, state: State, client: Client) -> Tokens:
    reply = await state.auth.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=body.refresh_token,
                                                                           client=client))
    return tokens_out(reply.tokens)


@router.delete("/sessions/current", status_code=204, tags=["sessions"])
async def logout(principal: CurrentPrincipal, state: State,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Response:
    assert credentials is not None  # CurrentPrincipal already required it
    await state.auth.Logout(auth_pb2.LogoutRequest(access_token=credentials.credentials))
    return Response(status_code=204)


@router.post("/password-resets", status_code=202, tags=["sessions"],
             summary="Always 202 with a reset id; a code goes by SMS to the account's phone, if there is one")
async def start_reset(body: ResetRequest, state: State, client: Client) -> ResetStarted:
    reply = await state.auth.StartPasswordReset(auth_pb2.StartPasswordResetRequest(
        identifier=body.identifier, client=client,
        captcha_passed=await captcha.passed(state.redis, body.captcha_id, body.captcha_answer)))
    return ResetStarted(reset_id=reply.reset_id)


@router.post("/password-resets/{reset_id}/otp/resend", status_code=202, tags=["sessions"],
             summary="The reset's code again, by SMS or (`{channel: \"email\"}`) to the account's verified email; "
                     "always the same answer for an open reset")
async def resend_reset_code(reset_id: Annotated[str, Path(max_length=64)], state: State, client: Client,
                            body: Annotated[ResendRequest | None, Body()] = None) -> ResetStarted:
    channel = _RESEND_CHANNELS.get(body.channel or "") if body else None
    await state.auth.ResendPasswordResetOtp(auth_pb2.ResendPasswordResetOtpRequest(
        reset_id=reset_id, client=client, channel=channel or common_pb2.CHANNEL_UNSPECIFIED))
    return ResetStarted(reset_id=reset_id)


@router.post("/password-resets/{reset_id}/complete", status_code=204, tags=["sessions"],
             summary="The right code sets the new password and ends every session")
async def complete_reset(reset_id: Annotated[str, Path(max_length=64)], body: ResetCompletion, state: State,
                         client: Client) -> Response:
    await state.auth.CompletePasswordReset(auth_pb2.CompletePasswordResetRequest(
        reset_id=reset_id, code=body.code, new_password=body.new_password, client=client))
    return Response(status_code=204)

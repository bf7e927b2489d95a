"""Getting in when SMS fails (CONTRACT.md §7): account recovery without the old phone, the
holder's view of pending recoveries, and the SMS gateway's signed delivery reports (the
registration the app polls for its code's delivery status is `accounts.polls`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, Field

from jkn.auth.v1 import auth_pb2
from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.gateway import captcha
from services.gateway.deps import AccountRateLimit, Client, CurrentPrincipal, State
from services.gateway.models import OtpCode, utc_iso

RecoveryId = Annotated[str, Path(max_length=64)]

recoveries = APIRouter(prefix="/v1/account-recoveries", tags=["accounts"], dependencies=[AccountRateLimit])
mine = APIRouter(prefix="/v1/me/account-recoveries", tags=["me"])
reports = APIRouter(prefix="/v1", tags=["providers"])


class RecoveryRequest(BaseModel):
    captcha_id: str | None = Field(None, max_length=64, description="from GET /v1/captcha (required when on)")
    captcha_answer: str | None = Field(None, max_length=16)
    identifier: str = Field(pattern=r"^([0-9]{16}|[0-9]{13})$", description="NIK (16 digits) or NOKA (13 digits)",
                            examples=["5171014408950006"])
    birth_date: date = Field(examples=["1995-08-04"])
    new_phone: str = Field(min_length=8, max_length=20, examples=["081234500099"])


class RecoveryStarted(BaseModel):
    recovery_id: str


class RecoveryEmailVerified(BaseModel):
    """The email code was right: a code went by SMS to the new phone."""

    recovery_id: str


class RecoveryScheduled(BaseModel):
    """Both codes were right: the new phone takes effect at `effective_at` unless the holder cancels."""

    recovery_id: str
    effective_at: str


class PendingRecovery(BaseModel):
    recovery_id: str
    status: Literal["SCHEDULED"]
    new_phone_masked: str
    created_at: str
    effective_at: str


class PendingRecoveries(BaseModel):
    items: list[PendingRecovery]


@recoveries.post("", status_code=202, summary="Recover an account whose phone is gone: always 202; a code goes "
                                              "to the account's verified email, if there is one")
async def start(body: RecoveryRequest, state: State, client: Client) -> RecoveryStarted:
    reply = await state.auth.StartAccountRecovery(auth_pb2.StartAccountRecoveryRequest(
        identifier=body.identifier, birth_date=body.birth_date.isoformat(), new_phone=body.new_phone, client=client,
        captcha_passed=await captcha.passed(state.redis, body.captcha_id, body.captcha_answer)))
    return RecoveryStarted(recovery_id=reply.recovery_id)


@recoveries.post("/{recovery_id}/verify-email", status_code=202,
                 summary="The email's code; then a code goes by SMS to the new phone")
async def verify_email(recovery_id: RecoveryId, body: OtpCode, state: State, client: Client) -> RecoveryEmailVerified:
    await state.auth.VerifyRecoveryEmail(auth_pb2.VerifyRecoveryEmailRequest(recovery_id=recovery_id, code=body.code,
                                                                             client=client))
    return RecoveryEmailVerified(recovery_id=recovery_id)


@recoveries.post("/{recovery_id}/verify-phone", status_code=202,
                 summary="The new phone's code: the change takes effect after the cooling-off period; the old "
                         "phone and the email are told at once")
async def verify_phone(recovery_id: RecoveryId, body: OtpCode, state: State, client: Client) -> RecoveryScheduled:
    reply = await state.auth.VerifyRecoveryPhone(auth_pb2.VerifyRecoveryPhoneRequest(
        recovery_id=recovery_id, code=body.code, client=client))
    return RecoveryScheduled(recovery_id=recovery_id, effective_at=utc_iso(reply.effective_at))


@mine.get("", summary="Recoveries of my account waiting for their cooling-off period to end")
async def pending(principal: CurrentPrincipal, state: State) -> PendingRecoveries:
    reply = await state.auth.ListAccountRecoveries(auth_pb2.ListAccountRecoveriesRequest(
        account_id=principal.account_id))
    return PendingRecoveries(items=[
        PendingRecovery(recovery_id=r.recovery_id, status="SCHEDULED", new_phone_masked=r.new_phone_masked,
                        created_at=utc_iso(r.created_at), effective_at=utc_iso(r.effective_at))
        for r in reply.recoveries])


@mine.post("/{recovery_id}/cancel", status_code=204, summary="Stop a recovery of my account: it never applies")
async def cancel(recovery_id: RecoveryId, principal: CurrentPrincipal, state: State) -> Response:
    await state.auth.CancelAccountRecovery(auth_pb2.CancelAccountRecoveryRequest(
        account_id=principal.account_id, recovery_id=recovery_id))
    return Response(status_code=204)


class DeliveryReportResult(BaseModel):
    delivery_status: Literal["QUEUED", "SENT", "FAILED"]
    duplicate: bool = Field(description="true when the report changed nothing (a repeat, or an older status)")


_STATUS: dict[int, Literal["QUEUED", "SENT", "FAILED"]] = {
    common_pb2.OTP_DELIVERY_STATUS_SENT: "SENT", common_pb2.OTP_DELIVERY_STATUS_FAILED: "FAILED"}


@reports.post("/sms-delivery-reports",
              summary="The SMS gateway's delivery report: body {reference, status, timestamp}, header "
                      "X-Signature = hex(HMAC-SHA256(secret, raw body)); a bad signature is 401; idempotent")
async def sms_delivery_report(state: State, request: Request,
                              x_signature: Annotated[str, Header(max_length=128)]) -> DeliveryReportResult:
    reply = await state.notify.HandleDeliveryReport(notify_pb2.HandleDeliveryReportRequest(
        raw_body=await request.body(), signature=x_signature))
    return DeliveryReportResult(delivery_status=_STATUS.get(reply.delivery_status, "QUEUED"),
                                duplicate=reply.duplicate)


router = APIRouter()
for _part in (recoveries, mine, reports):
    router.include_router(_part)

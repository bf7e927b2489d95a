"""Notify's gRPC servicer: translation only, to `verifications` (one-time codes), `notifications`
and the dev outbox."""

from __future__ import annotations

import asyncpg
import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.contracts.contacts import normalize_destination
from services.kit.errors import NotFound, ValidationFailed
from services.kit.validation import require
from services.notify import channels, delivery_reports, notifications, store
from services.notify.events import delivery_status
from services.notify.notifications import MAX_TEXT
from services.notify.verifications import Verifications, View, now_in_ms

_RESULTS = {"approved": notify_pb2.CHECK_OTP_RESULT_APPROVED, "invalid": notify_pb2.CHECK_OTP_RESULT_INVALID_CODE,
            "expired": notify_pb2.CHECK_OTP_RESULT_EXPIRED,
            "max_attempts_reached": notify_pb2.CHECK_OTP_RESULT_MAX_ATTEMPTS_REACHED,
            "not_pending": notify_pb2.CHECK_OTP_RESULT_NOT_PENDING}
_STATUS_AFTER = {"approved": "approved", "invalid": "pending", "expired": "expired",
                 "max_attempts_reached": "max_attempts_reached"}


# enum names ↔ the use cases' words, computed once (not per call)
_PURPOSES = {value: name.removeprefix("OTP_PURPOSE_").lower() for name, value in notify_pb2.OtpPurpose.items()
             if value != notify_pb2.OTP_PURPOSE_UNSPECIFIED}
_PURPOSE_VALUES = {name: value for value, name in _PURPOSES.items()}
_STATUSES = {name.removeprefix("VERIFICATION_STATUS_").lower(): value
             for name, value in notify_pb2.VerificationStatus.items()}


def _purpose(value: notify_pb2.OtpPurpose.ValueType) -> str:
    name = _PURPOSES.get(value)
    if name is None:
        raise ValidationFailed([{"field": "purpose", "code": "required", "message": "purpose is required"}])
    return name


def _status(name: str) -> notify_pb2.VerificationStatus.ValueType:
    return _STATUSES[name]


def _verification(view: View) -> notify_pb2.Verification:
    now_ms = now_in_ms()
    verification = notify_pb2.Verification(
        verification_id=view.verification_id, status=_STATUSES[view.status], purpose=_PURPOSE_VALUES[view.purpose],
        flow_id=view.flow_id, channel=channels.BY_NAME[view.channel].wire, destination_masked=view.destination_masked,
        expires_in_s=view.seconds_left(view.expires_at_ms, now_ms),
        resend_after_s=view.seconds_left(view.resend_at_ms, now_ms), attempts_left=view.attempts_left,
        delivery_status=delivery_status(view.delivery_status))
    verification.expires_at.FromMilliseconds(view.expires_at_ms)
    return verification


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, *, pool: asyncpg.Pool, verifications: Verifications, dev_outbox_enabled: bool,
                 sms_callback_secret: str = "", offered: frozenset[str] = frozenset({"sms", "email"})):
        self.pool = pool
        self.verifications = verifications
        self.dev_outbox_enabled = dev_outbox_enabled
        self.sms_callback_secret = sms_callback_secret
        self.offered = offered

    def _offered(self, wire: common_pb2.Channel.ValueType) -> str:
        """A channel codes may go out on: known (`channels`) and with a provider configured."""
        kind = channels.BY_WIRE.get(wire)
        if kind is None or kind.name not in self.offered:
            raise ValidationFailed([{"field": "channel", "code": "unsupported",
                                     "message": " or ".join(sorted(self.offered))}])
        return kind.name

    async def IssueOtp(self, request: notify_pb2.IssueOtpRequest, context: grpc.aio.ServicerContext
                       ) -> notify_pb2.IssueOtpResponse:
        channel = self._offered(request.channel)
        require({"flow_id": request.flow_id, "destination": request.destination}, max_length=MAX_TEXT)
        view = await self.verifications.issue(
            purpose=_purpose(request.purpose), flow_id=request.flow_id, channel=channel,
            destination=request.destination, client_ip=request.client_ip, idempotency_key=request.idempotency_key,
            language="en" if request.language == common_pb2.LANGUAGE_EN else "id")
        return notify_pb2.IssueOtpResponse(verification=_verification(view))

    async def ResendOtp(self, request: notify_pb2.ResendOtpRequest, context: grpc.aio.ServicerContext
                        ) -> notify_pb2.ResendOtpResponse:
        require({"verification_id": request.verification_id, "flow_id": request.flow_id}, max_length=MAX_TEXT)
        channel = None
        if request.channel != common_pb2.CHANNEL_UNSPECIFIED:
            channel = self._offered(request.channel)
            if len(request.destination) > MAX_TEXT:
                raise ValidationFailed([{"field": "destination", "code": "too_long", "message": "too long"}])
        view = await self.verifications.resend(verification_id=request.verification_id,
                                               purpose=_purpose(request.purpose), flow_id=request.flow_id,
                                               client_ip=request.client_ip, channel=channel,
                                               destination=request.destination)
        return notify_pb2.ResendOtpResponse(verification=_verification(view))

    async def CheckOtp(self, request: notify_pb2.CheckOtpRequest, context: grpc.aio.ServicerContext
                       ) -> notify_pb2.CheckOtpResponse:
        require({"verification_id": request.verification_id, "flow_id": request.flow_id}, max_length=MAX_TEXT)
        outcome = await self.verifications.check(verification_id=request.verification_id,
                                                 purpose=_purpose(request.purpose), flow_id=request.flow_id,
                                                 code=request.code)
        status = _STATUS_AFTER.get(outcome.result) or outcome.status or "failed"
        if outcome.result == "invalid" and outcome.attempts_left == 0:
            status = "max_attempts_reached"
        return notify_pb2.CheckOtpResponse(result=_RESULTS[outcome.result], status=_status(status),
                                           attempts_left=outcome.attempts_left)

    async def CancelOtp(self, request: notify_pb2.CancelOtpRequest, context: grpc.aio.ServicerContext
                        ) -> notify_pb2.CancelOtpResponse:
        require({"verification_id": request.verification_id, "flow_id": request.flow_id}, max_length=MAX_TEXT)
        view = await self.verifications.cancel(verification_id=request.verification_id,
                                               purpose=_purpose(request.purpose), flow_id=request.flow_id)
        return notify_pb2.CancelOtpResponse(verification=_verification(view))

    async def GetOtp(self, request: notify_pb2.GetOtpRequest, context: grpc.aio.ServicerContext
                     ) -> notify_pb2.GetOtpResponse:
        require({"verification_id": request.verification_id}, max_length=MAX_TEXT)
        return notify_pb2.GetOtpResponse(
            verification=_verification(await self.verifications.get(verification_id=request.verification_id)))

    async def SendNotification(self, request: notify_pb2.SendNotificationRequest,
                               context: grpc.aio.ServicerContext) -> notify_pb2.SendNotificationResponse:
        """Queue a notification from another service; the same request id twice is sent once."""
        duplicate = await notifications.enqueue(self.pool, request.notification)
        return notify_pb2.SendNotificationResponse(request_id=request.notification.request_id, duplicate=duplicate)

    async def ListDevOutbox(self, request: notify_pb2.ListDevOutboxRequest, context: grpc.aio.ServicerContext
                            ) -> notify_pb2.ListDevOutboxResponse:
        if not self.dev_outbox_enabled:
            raise NotFound("the dev outbox exists only in dev")
        limit = min(request.limit or 50, 500)
        to = normalize_destination(request.to) if request.to else None
        rows = await store.list_dev_outbox(self.pool, to=to, limit=limit)
        return notify_pb2.ListDevOutboxResponse(items=[_outbox_item(r) for r in rows])


    async def HandleDeliveryReport(self, request: notify_pb2.HandleDeliveryReportRequest,
                                   context: grpc.aio.ServicerContext) -> notify_pb2.HandleDeliveryReportResponse:
        """The SMS gateway's signed delivery report (relayed by the gateway)."""
        status, duplicate = await delivery_reports.handle(
            store=self.verifications.store, pool=self.pool, secret=self.sms_callback_secret,
            raw_body=request.raw_body, signature=request.signature)
        return notify_pb2.HandleDeliveryReportResponse(delivery_status=delivery_status(status), duplicate=duplicate)


def _outbox_item(row: asyncpg.Record) -> notify_pb2.DevOutboxItem:
    created_at = Timestamp()
    created_at.FromDatetime(row["created_at"])
    item = notify_pb2.DevOutboxItem(channel=channels.BY_NAME[row["channel"]].wire, to=row["recipient"],
                                    subject=row["subject"], body=row["body"], created_at=created_at)
    if row["code"] is not None:
        item.code = row["code"]
    return item

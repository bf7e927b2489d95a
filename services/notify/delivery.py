"""The delivery worker: consumes ``notify.requests`` and hands each message to its providers.

At least once from Kafka, exactly once per request id (the kit's `IdempotentConsumer`
records it in the same transaction as the dev-outbox row). For one-time codes the worker
derives the code from the verification's state at send time: the code never travels in a
message, a verification already approved, cancelled or expired is not sent, and a retry
can only ever send the same code. After the consumer's attempts a request goes to
``notify.requests.dlq`` and is counted.

Each delivery is a span (``notify deliver sms``) under the consumer's processing span, with
one CLIENT span per provider; they name the channel, template, provider and result, never
the destination, the text or the code.
"""

from __future__ import annotations

import time

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit.consumer import Event
from services.kit.logs import get_logger
from services.kit.masking import mask_email, mask_phone
from services.notify import metrics, otp, templates
from services.notify.otp_store import OtpStore
from services.notify.providers import Outgoing, ProviderError

log = get_logger("jkn.notify.delivery")
tracer = trace.get_tracer("jkn.notify.delivery")
_CHANNEL = {common_pb2.CHANNEL_SMS: "sms", common_pb2.CHANNEL_EMAIL: "email"}
_TEMPLATE_PREFIX = "NOTIFICATION_TEMPLATE_"


class Delivery:
    def __init__(self, *, store: OtpStore, keys: list[otp.CodeKey], providers: dict[str, list]):
        self.store, self.keys, self.providers = store, keys, providers

    async def handle(self, event: Event, conn: asyncpg.Connection) -> None:
        request = notify_pb2.NotificationRequest.FromString(event.payload)
        channel = _CHANNEL.get(request.channel)
        if channel is None:
            raise ValueError("unsupported channel")
        template = self._template(request)
        with tracer.start_as_current_span(
            f"notify deliver {channel}", record_exception=False, set_status_on_exception=False,
            attributes={"notify.channel": channel, "notify.template": template, "notify.source": request.source},
        ) as span:
            try:
                result = await self._deliver(request, channel, conn)
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", type(error).__name__)
                raise
            span.set_attribute("notify.result", result)

    async def _deliver(self, request: notify_pb2.NotificationRequest, channel: str, conn: asyncpg.Connection) -> str:
        message = await self.compose(request, channel)
        if message is None:
            metrics.DELIVERIES.labels(channel, "none", "skipped_stale").inc()
            return "skipped_stale"
        for provider in self.providers[channel]:
            with tracer.start_as_current_span(
                f"{provider.name} send", kind=SpanKind.CLIENT, record_exception=False,
                set_status_on_exception=False, attributes={"notify.channel": channel, "notify.provider": provider.name},
            ) as span:
                try:
                    await provider.send(message, conn)
                except Exception as error:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", type(error).__name__)
                    metrics.DELIVERIES.labels(channel, provider.name, "failed").inc()
                    if isinstance(error, ProviderError) and error.permanent and "verification_id" in request.params:
                        await self.store.mark_failed(request.params["verification_id"])
                    raise
            metrics.DELIVERIES.labels(channel, provider.name, "delivered").inc()
        if request.HasField("requested_at"):
            metrics.DELIVERY_LATENCY.labels(channel).observe(max(0.0, time.time() - request.requested_at.ToSeconds()))
        log.info("notification_delivered", extra={
            "request_id": request.request_id, "channel": channel, "template": self._template(request),
            "to": mask_phone(message.to) if channel == "sms" else mask_email(message.to)})
        return "delivered"

    async def compose(self, request: notify_pb2.NotificationRequest, channel: str) -> Outgoing | None:
        template = self._template(request)
        params = dict(request.params)
        language = "en" if request.language == common_pb2.LANGUAGE_EN else "id"
        code = None
        if template == "otp_code":
            code, minutes = await self._current_code(params["verification_id"])
            if code is None:
                return None
            params = {"code": code, "minutes": str(minutes)}
        rendered = templates.render(template, language, params)
        return Outgoing(request_id=request.request_id, channel=channel, to=request.to, subject=rendered.subject,
                        body=rendered.body, code=code)

    async def _current_code(self, verification_id: str) -> tuple[str | None, int]:
        """The code of a still-pending verification (None if it should no longer be sent)."""
        state = await self.store.load_for_send(verification_id)
        if state is None or state["status"] != "pending":
            return None, 0
        left_ms = int(state["expires_ms"]) - int(time.time() * 1000)
        key = next((k for k in self.keys if k.kid == state["kid"]), None)
        if left_ms <= 0 or key is None:
            return None, 0
        return otp.derive_code(key, verification_id, bytes.fromhex(state["nonce"])), max(1, -(-left_ms // 60000))

    @staticmethod
    def _template(request: notify_pb2.NotificationRequest) -> str:
        return notify_pb2.NotificationTemplate.Name(request.template).removeprefix(_TEMPLATE_PREFIX).lower()

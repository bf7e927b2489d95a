"""The delivery worker: consumes ``notify.requests`` and hands each message to its providers.

At least once from Kafka, exactly once per request id (the kit's `IdempotentConsumer`
records it in the same transaction as the dev-outbox row). For one-time codes the worker
derives the code from the verification's state at send time: the code never travels in a
message, a verification already approved, cancelled or expired is not sent, and a retry
can only ever send the same code. After the consumer's attempts a request goes to
``notify.requests.dlq`` and is counted.

Each send of a code has a delivery status (`otp_store`, CONTRACT.md §7): QUEUED when it was
queued, SENT once every provider accepted it, FAILED at once when a provider refused it for good
(the request is then done: a refusal is not retried) or when the consumer's last attempt failed
too. Each change is published (`events.delivery_status_changed`); the verification stays pending,
so the same code can go out on another channel.

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
from services.notify import channels, events, metrics, otp, templates
from services.notify.otp_store import OtpStore
from services.notify.providers import Outgoing, ProviderError

log = get_logger("jkn.notify.delivery")
tracer = trace.get_tracer("jkn.notify.delivery")
_TEMPLATE_PREFIX = "NOTIFICATION_TEMPLATE_"


class Delivery:
    def __init__(self, *, store: OtpStore, keys: list[otp.CodeKey], providers: dict[str, list],
                 pool: asyncpg.Pool | None = None, max_attempts: int = 5):
        self.store, self.keys, self.providers = store, keys, providers
        self.pool, self.max_attempts = pool, max_attempts

    async def handle(self, event: Event, conn: asyncpg.Connection) -> None:
        request = notify_pb2.NotificationRequest.FromString(event.payload)
        kind = channels.BY_WIRE.get(request.channel)
        if kind is None or kind.name not in self.providers:
            raise ValueError("unsupported channel")
        channel = kind.name
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
        is_code = message.code is not None
        provider_name = "none"
        for provider in self.providers[channel]:
            provider_name = provider.name
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
                    if is_code and isinstance(error, ProviderError) and error.permanent:
                        await self._record(request.request_id, "failed", provider.name)
                        log.warning("otp_send_refused", extra={"request_id": request.request_id, "channel": channel,
                                                               "provider": provider.name})
                        return "refused"
                    if is_code and await self.store.count_attempt(request.request_id) >= self.max_attempts:
                        await self._record(request.request_id, "failed", provider.name)
                    raise
            metrics.DELIVERIES.labels(channel, provider.name, "delivered").inc()
        if is_code:
            await self._record(request.request_id, "sent", provider_name)
        if request.HasField("requested_at"):
            metrics.DELIVERY_LATENCY.labels(channel).observe(max(0.0, time.time() - request.requested_at.ToSeconds()))
        log.info("notification_delivered", extra={
            "request_id": request.request_id, "channel": channel, "template": self._template(request),
            "to": channels.BY_NAME[channel].mask(message.to)})
        return "delivered"

    async def _record(self, request_id: str, status: str, provider: str) -> None:
        """A provider's word on a send of a code: recorded, counted and published (once)."""
        change = await self.store.record_delivery(request_id, status=status, provider=provider)
        if change is None or not change.changed:
            return
        metrics.OTP_DELIVERY_STATUS.labels(change.channel, provider, change.status).inc()
        if self.pool is not None:
            await events.delivery_status_changed(self.pool, request_id=request_id, change=change, provider=provider)

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

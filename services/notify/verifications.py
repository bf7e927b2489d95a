"""Verification flows: the OTP engine's operations as the servicer calls them.

Issue and resend only *queue* the send (a ``notify.requests`` request), in the same atomic
Redis step that creates the verification or records the resend (`otp_store`; the relay in
`otp_outbox` moves it to Kafka); the delivery worker derives the code and sends it, so a slow
provider never blocks the API. Redis down: the step fails as a whole — a 503, nothing sent and
nothing left half-done. A check is one Redis step too: the guess is counted and compared there.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass

from prometheus_client import Counter

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.contracts.addresses import limit_key
from services.kit.errors import DomainError, NotFound, ValidationFailed
from services.kit.logs import get_logger
from services.kit.telemetry import inject_headers
from services.notify import channels, metrics, otp
from services.notify.otp_store import CheckOutcome, OtpSendRefused, OtpStore, QueuedSend, Sent
from services.notify.settings import NotifySettings

log = get_logger("jkn.notify.otp")


@dataclass(frozen=True)
class View:
    """What callers learn about a verification (never the code, the destination only masked)."""

    verification_id: str
    status: str
    purpose: str
    flow_id: str
    channel: str
    destination_masked: str
    expires_at_ms: int
    resend_at_ms: int
    attempts_left: int
    #: What the provider said about the latest send: queued | sent | failed ("" before it was recorded).
    delivery_status: str = "queued"

    def seconds_left(self, until_ms: int, now_ms: int | None = None) -> int:
        now_ms = now_in_ms() if now_ms is None else now_ms
        return max(0, -(-(until_ms - now_ms) // 1000))


def now_in_ms() -> int:
    return time.time_ns() // 1_000_000


def masked(channel: str, address: str) -> str:
    return channels.BY_NAME[channel].mask(address)


_LANGUAGE = {"en": common_pb2.LANGUAGE_EN}


class Verifications:
    def __init__(self, *, store: OtpStore, settings: NotifySettings):
        self.store, self.settings = store, settings
        self.keys = otp.parse_code_keys(settings.otp_code_keys.get_secret_value())
        self._countries = settings.allowed_country_codes
        self._counters: dict[tuple[object, ...], Counter] = {}  # label lookups, once per label set

    async def issue(self, *, purpose: str, flow_id: str, channel: str, destination: str, client_ip: str,
                    idempotency_key: str, language: str) -> View:
        dest = self._destination(channel, destination)
        key = self.keys[0]
        verification_id = uuid.uuid4().hex
        nonce = otp.new_nonce()
        ttl_s = otp.lifetime_s(channel, sms_s=self.settings.otp_sms_ttl_s, email_s=self.settings.otp_email_ttl_s)
        try:
            sent = await self.store.issue(
                verification_id=verification_id, purpose=purpose, flow_id=flow_id, channel=channel,
                destination=dest.address, destination_hash=otp.destination_hash(key, dest.address),
                client_ip=limit_key(client_ip) if client_ip else "", number_prefix=dest.number_prefix, ttl_s=ttl_s,
                idempotency_key=f"{purpose}:{flow_id}:{idempotency_key}" if idempotency_key else "",
                kid=key.kid, nonce=nonce,
                verifier=otp.verifier(key, verification_id, otp.derive_code(key, verification_id, nonce)),
                send=self._send_request(verification_id, channel, dest.address, language))
        except OtpSendRefused as refusal:
            self._count_refusal(refusal)
            raise
        if isinstance(sent, str):  # the same idempotency key again: the same verification, no new send
            return await self.get(verification_id=sent)
        self._counter(metrics.OTP_ISSUED, channel, purpose).inc()
        if channel == "sms":
            metrics.SMS_BREAKER_OPEN.set(0)
        if log.isEnabledFor(logging.INFO):
            log.info("otp_issued", extra={"verification_id": verification_id, "channel": channel,
                                          "purpose": purpose, "destination": masked(channel, dest.address)})
        return self._view(verification_id, purpose, flow_id, channel, dest.address, sent, self.settings.otp_max_checks)

    async def resend(self, *, verification_id: str, purpose: str, flow_id: str, client_ip: str,
                     language: str = "id", channel: str | None = None, destination: str = "") -> View:
        """The same code again, on the verification's own channel or (``channel``, ``destination``)
        another one: a fallback when the first cannot be delivered (CONTRACT.md §7)."""
        state = await self._state(verification_id)
        own_channel = state["channel"]
        other = None
        if channel is None or (channel == own_channel and not destination):
            channel, address = own_channel, state["destination"]
            prefix = "" if channel != "sms" else address[1:1 + self.settings.otp_number_prefix_digits]
        else:
            dest = self._destination(channel, destination)
            channel, address, prefix = dest.channel, dest.address, dest.number_prefix
            other = (channel, address, otp.destination_hash(self.keys[0], address))
        try:
            sent = await self.store.resend(verification_id=verification_id, purpose=purpose, flow_id=flow_id,
                                           client_ip=limit_key(client_ip) if client_ip else "", number_prefix=prefix,
                                           send=self._send_request(verification_id, channel, address, language),
                                           other=other)
        except OtpSendRefused as refusal:
            self._count_refusal(refusal)
            raise
        metrics.OTP_RESENT.labels(channel).inc()
        if channel != own_channel:
            metrics.OTP_FALLBACKS.labels(own_channel, channel).inc()
        log.info("otp_resent", extra={"verification_id": verification_id, "channel": channel})
        left = int(state["max_checks"]) - int(state["checks"])
        return self._view(verification_id, purpose, flow_id, channel, address, sent, left)

    def _destination(self, channel: str, destination: str) -> otp.Destination:
        try:
            return otp.parse_destination(channel, destination, allowed_country_codes=self._countries,
                                         prefix_digits=self.settings.otp_number_prefix_digits)
        except otp.DestinationRejected as error:
            metrics.OTP_REFUSED.labels("destination_not_allowed").inc()
            if error.malformed:
                raise ValidationFailed([{"field": "destination", "code": "invalid", "message": str(error)}]) from None
            raise DomainError(str(error), code="DESTINATION_NOT_ALLOWED") from None

    async def check(self, *, verification_id: str, purpose: str, flow_id: str, code: str) -> CheckOutcome:
        """One Redis step counts the guess and compares its verifier (`otp.candidate_verifiers`)."""
        outcome = await self.store.verify(verification_id=verification_id, purpose=purpose, flow_id=flow_id,
                                          candidates=otp.candidate_verifiers(self.keys, verification_id, code))
        if outcome is None:  # issued before verifiers existed (a rolling upgrade): compare here
            state = await self._state(verification_id)
            key = next((k for k in self.keys if k.kid == state["kid"]), None)
            code_ok = key is not None and otp.code_matches(key, verification_id, bytes.fromhex(state["nonce"]), code)
            outcome = await self.store.check(verification_id=verification_id, purpose=purpose, flow_id=flow_id,
                                             code_ok=code_ok)
        self._counter(metrics.OTP_CHECKED, purpose, outcome.result).inc()
        if log.isEnabledFor(logging.INFO):
            log.info("otp_checked", extra={"verification_id": verification_id, "result": outcome.result,
                                           "attempts_left": outcome.attempts_left})
        return outcome

    async def cancel(self, *, verification_id: str, purpose: str, flow_id: str) -> View:
        await self.store.cancel(verification_id=verification_id, purpose=purpose, flow_id=flow_id)
        return await self.get(verification_id=verification_id)

    async def get(self, *, verification_id: str) -> View:
        state = await self._state(verification_id)
        expires = int(state["expires_ms"])
        status = state["status"]
        if status == "pending" and expires <= now_in_ms():
            status = "expired"
        channel = state.get("last_channel") or state["channel"]
        address = state.get("last_destination") or state["destination"]
        return View(verification_id, status, state["purpose"], state["flow"], channel, masked(channel, address),
                    expires, int(state["last_send_ms"]) + self.settings.otp_resend_cooldown_s * 1000,
                    int(state["max_checks"]) - int(state["checks"]), state.get("delivery_status", ""))

    async def _state(self, verification_id: str) -> dict[str, str]:
        state = await self.store.load(verification_id)
        if state is None:
            raise NotFound("no such verification")
        return state

    def _view(self, verification_id: str, purpose: str, flow_id: str, channel: str, address: str, sent: Sent,
              attempts_left: int) -> View:
        return View(verification_id, "pending", purpose, flow_id, channel, masked(channel, address),
                    sent.expires_at_ms, sent.sent_at_ms + self.settings.otp_resend_cooldown_s * 1000, attempts_left)

    def _count_refusal(self, refusal: OtpSendRefused) -> None:
        metrics.OTP_REFUSED.labels(refusal.rule).inc()
        if refusal.rule == "sms_budget":
            metrics.SMS_BREAKER_OPEN.set(1)
        log.warning("otp_refused", extra={"rule": refusal.rule, "retry_after": refusal.fields["retry_after"]})

    def _counter(self, family: Counter, *labels: str) -> Counter:
        child = self._counters.get((id(family), *labels))
        if child is None:
            child = self._counters[(id(family), *labels)] = family.labels(*labels)
        return child

    @staticmethod
    def _send_request(verification_id: str, channel: str, address: str, language: str) -> QueuedSend:
        """The send request for the delivery worker (which derives the code itself), queued by the
        Redis step that allows the send; its id is also the Kafka event id (deduplication)."""
        now_ns = time.time_ns()
        request_id = f"otp:{verification_id}:{now_ns}"
        request = notify_pb2.NotificationRequest(
            request_id=request_id, template=notify_pb2.NOTIFICATION_TEMPLATE_OTP_CODE,
            channel=channels.BY_NAME[channel].wire, to=address,
            language=_LANGUAGE.get(language, common_pb2.LANGUAGE_ID),
            params={"verification_id": verification_id}, source="notify")
        request.requested_at.FromNanoseconds(now_ns)
        trace = {k: v.decode() for k, v in inject_headers()}
        return QueuedSend(request_id, request.SerializeToString(), json.dumps(trace) if trace else "")

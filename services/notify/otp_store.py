"""One-time-code state in Redis: every transition is one call of ``otp_state.lua``.

Redis unavailable → the redis client raises, and the kit maps it to ``UNAVAILABLE``
(gateway 503 ``DEPENDENCY_UNAVAILABLE``): nothing is sent, nothing half-written.

An issue or resend queues its send request in the same call (the stream ``<prefix>outbox``, a
transactional outbox in Redis); `otp_outbox.OtpSendRelay` moves it to Kafka through the
consumer group ``relay`` and deletes it once Kafka acknowledged it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from services.kit.errors import DomainError, NotFound
from services.kit.redis import PipelinedScript

_SCRIPT = (Path(__file__).parent / "otp_state.lua").read_text()
RELAY_GROUP = "relay"


@dataclass(frozen=True)
class Limits:
    """Rule 5 of `services.notify.otp`, as numbers (from settings)."""

    destination_10m: int = 5
    destination_24h: int = 10
    client_ip_1h: int = 30
    number_prefix_1h: int = 200
    sms_budget_1h: int = 20_000
    resend_cooldown_s: int = 60
    max_checks: int = 5

    def argv(self) -> list[int]:
        return [self.destination_10m, self.destination_24h, self.client_ip_1h, self.number_prefix_1h,
                self.sms_budget_1h]


class OtpSendRefused(DomainError):
    """A send limit refused the code; ``rule`` names which, ``retry_after`` says when to try again."""

    def __init__(self, rule: str, retry_after_ms: int):
        code = "OTP_RESEND_TOO_SOON" if rule == "resend_cooldown" else "OTP_SEND_LIMIT"
        super().__init__(f"refused by {rule}", code=code, rule=rule, retry_after=max(1, -(-retry_after_ms // 1000)))
        self.rule = rule


@dataclass(frozen=True)
class Sent:
    sent_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True)
class QueuedSend:
    """A send request as the outbox stream holds it: its id (also the Kafka event id, so a
    request relayed twice is handled once), the serialized NotificationRequest, and the trace
    context of the request that queued it (``traceparent=…``, or empty)."""

    request_id: str
    payload: bytes
    trace: str = ""


@dataclass(frozen=True)
class DeliveryChange:
    """What `OtpStore.record_delivery` did to one send."""

    changed: bool
    status: str  # queued | sent | failed: the send's status after the call
    verification_id: str
    channel: str
    purpose: str


@dataclass(frozen=True)
class CheckOutcome:
    result: str  # approved | invalid | expired | max_attempts_reached | not_pending
    attempts_left: int
    status: str | None = None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class OtpStore:
    def __init__(self, redis: Redis, *, limits: Limits, prefix: str = "otp:"):
        self.redis, self.limits, self.prefix = redis, limits, prefix
        self._script = PipelinedScript(redis, _SCRIPT)  # the calls of one loop turn share a round trip
        self._argv = self.limits.argv()
        self.outbox = f"{prefix}outbox"

    async def _run(self, operation: str, *args: str | int | float | bytes) -> list[str]:
        reply = await self._script(keys=(), args=(operation, self.prefix, *args))
        return [_text(v) for v in reply]

    async def issue(self, *, verification_id: str, purpose: str, flow_id: str, channel: str, destination: str,
                    destination_hash: str, client_ip: str, number_prefix: str, ttl_s: int,
                    idempotency_key: str, kid: str, nonce: bytes, verifier: str, send: QueuedSend) -> Sent | str:
        """A new pending verification and its first send (queued with it); an existing id when the
        idempotency key repeats (nothing queued)."""
        reply = await self._run(
            "issue", verification_id, destination_hash, client_ip, number_prefix, *self._argv,
            "1" if channel == "sms" else "0", ttl_s * 1000, idempotency_key, purpose, flow_id, channel,
            destination, kid, nonce.hex(), self.limits.max_checks, verifier, send.request_id, send.payload,
            send.trace)
        return self._sent(reply)

    async def resend(self, *, verification_id: str, purpose: str, flow_id: str, client_ip: str,
                     number_prefix: str, send: QueuedSend, other: tuple[str, str, str] | None = None) -> Sent:
        """The same code again; ``other`` is ``(channel, destination, destination_hash)`` when it goes
        to another channel (the cooldown and caps of that destination apply)."""
        channel, destination, destination_hash = other or ("", "", "")
        reply = await self._run(
            "resend", verification_id, "", client_ip, number_prefix, *self._argv,
            self.limits.resend_cooldown_s * 1000, purpose, flow_id, send.request_id, send.payload, send.trace,
            channel, destination, destination_hash)
        sent = self._sent(reply)
        assert isinstance(sent, Sent)
        return sent

    def _sent(self, reply: list[str]) -> Sent | str:
        kind = reply[0]
        if kind == "ok":
            return Sent(int(reply[1]), int(reply[2]))
        if kind == "existing":
            return reply[1]
        if kind == "refused":
            raise OtpSendRefused(reply[1], int(reply[2]))
        if reply[1] == "not_found":
            raise NotFound("no such verification")
        if reply[1] == "expired":
            raise DomainError("verification expired", code="OTP_EXPIRED")
        raise DomainError("verification no longer pending", code="OTP_ATTEMPTS_EXCEEDED"
                          if reply[2:] == ["max_attempts_reached"] else "NOT_FOUND")

    async def verify(self, *, verification_id: str, purpose: str, flow_id: str, candidates: list[str]
                     ) -> CheckOutcome | None:
        """Count the guess and compare it, in one atomic step; ``candidates`` are
        `otp.candidate_verifiers`. None: the verification predates verifiers (use `check`)."""
        reply = await self._run("verify", verification_id, purpose, flow_id, *candidates)
        if reply[0] == "legacy":
            return None
        if reply[1] == "not_found":
            raise NotFound("no such verification")
        return CheckOutcome(reply[1], int(reply[2]), reply[3] if len(reply) > 3 else None)

    async def check(self, *, verification_id: str, purpose: str, flow_id: str, code_ok: bool) -> CheckOutcome:
        """The step for verifications issued before verifiers: the caller compared the code."""
        reply = await self._run("check", verification_id, purpose, flow_id, "1" if code_ok else "0")
        if reply[1] == "not_found":
            raise NotFound("no such verification")
        return CheckOutcome(reply[1], int(reply[2]), reply[3] if len(reply) > 3 else None)

    async def cancel(self, *, verification_id: str, purpose: str, flow_id: str) -> None:
        reply = await self._run("cancel", verification_id, purpose, flow_id)
        if reply[1] == "not_found":
            raise NotFound("no such verification")

    async def mark_failed(self, verification_id: str) -> None:
        """The code cannot be delivered (a provider refused it for good): status ``failed``."""
        await self._run("fail", verification_id)

    async def record_delivery(self, request_id: str, *, status: str, provider: str) -> DeliveryChange | None:
        """A provider's word on one send (``sent`` or ``failed``); None for a send without a record
        (not an OTP send, or gone). `DeliveryChange.changed` is False for a repeated or older word."""
        reply = await self._run("delivery", request_id, status, provider)
        if reply[1] == "not_found":
            return None
        return DeliveryChange(changed=reply[1] == "changed", status=reply[2], verification_id=reply[3],
                              channel=reply[4], purpose=reply[5])

    async def count_attempt(self, request_id: str) -> int:
        """One more try of the delivery worker at a send; the tries so far (0: no such send)."""
        return int((await self._run("attempt", request_id))[1])

    async def load_for_send(self, verification_id: str) -> dict[str, str] | None:
        """What the delivery worker needs to derive a code (status, expiry, key id, nonce)."""
        fields = ("status", "expires_ms", "kid", "nonce")
        values = await cast(Awaitable[list[Any]], self.redis.hmget(f"{self.prefix}v:{verification_id}", list(fields)))
        if values[0] is None:
            return None
        return {name: _text(value) for name, value in zip(fields, values, strict=True) if value is not None}

    async def load(self, verification_id: str) -> dict[str, str] | None:
        raw = await cast(Awaitable[dict[Any, Any]], self.redis.hgetall(f"{self.prefix}v:{verification_id}"))
        return {_text(k): _text(v) for k, v in raw.items()} or None

    # --- the outbox stream (read by `otp_outbox.OtpSendRelay`) -----------------------------------

    async def ensure_relay_group(self) -> None:
        """The relay's consumer group (from the stream's start, so nothing queued before is skipped)."""
        try:
            await self.redis.xgroup_create(self.outbox, RELAY_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read_sends(self, consumer: str, *, count: int, block_ms: int | None, pending: bool = False
                         ) -> list[tuple[bytes, QueuedSend]]:
        """New send requests for ``consumer`` (``pending``: the ones it read and did not acknowledge)."""
        reply: Any = await self.redis.xreadgroup(RELAY_GROUP, consumer, {self.outbox: "0" if pending else ">"},
                                                 count=count, block=None if pending else block_ms)
        streams = reply.values() if isinstance(reply, dict) else [entries for _, entries in reply or ()]
        return [(entry_id, _queued(fields)) for entries in streams for entry_id, fields in entries if fields]

    async def claim_stale_sends(self, consumer: str, *, min_idle_ms: int, count: int
                                ) -> list[tuple[bytes, QueuedSend]]:
        """Send requests another relay read and never acknowledged (it died): now ``consumer``'s."""
        reply: Any = await self.redis.xautoclaim(self.outbox, RELAY_GROUP, consumer, min_idle_ms, "0-0",
                                                 count=count)
        return [(entry_id, _queued(fields)) for entry_id, fields in reply[1] if fields]

    async def ack_sends(self, entry_ids: list[bytes]) -> None:
        """Kafka has them: acknowledge and delete, in one round trip."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.outbox, RELAY_GROUP, *entry_ids)
            pipe.xdel(self.outbox, *entry_ids)
            await pipe.execute()

    async def outbox_length(self) -> int:
        return int(await self.redis.xlen(self.outbox))


def _queued(fields: dict[bytes, bytes]) -> QueuedSend:
    return QueuedSend(_text(fields[b"id"]), fields[b"payload"], _text(fields.get(b"trace", b"")))

"""One-time-code state in Redis: every transition is one call of ``otp_state.lua``.

Redis unavailable → the redis client raises, and the kit maps it to ``UNAVAILABLE``
(gateway 503 ``DEPENDENCY_UNAVAILABLE``): nothing is sent, nothing half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from services.kit.errors import DomainError, NotFound

_SCRIPT = (Path(__file__).parent / "otp_state.lua").read_text()


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
class CheckOutcome:
    result: str  # approved | invalid | expired | max_attempts_reached | not_pending
    attempts_left: int
    status: str | None = None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class OtpStore:
    def __init__(self, redis: Redis, *, limits: Limits, prefix: str = "otp:"):
        self.redis, self.limits, self.prefix = redis, limits, prefix
        self._script = redis.register_script(_SCRIPT)

    async def _run(self, operation: str, *args: str | int | float | bytes) -> list[str]:
        reply = await self._script(keys=[], args=[operation, self.prefix, *args])
        return [_text(v) for v in reply]

    async def issue(self, *, verification_id: str, purpose: str, flow_id: str, channel: str, destination: str,
                    destination_hash: str, client_ip: str, number_prefix: str, ttl_s: int,
                    idempotency_key: str, kid: str, nonce: bytes) -> Sent | str:
        """A new pending verification and its first send; an existing id when the idempotency key repeats."""
        reply = await self._run(
            "issue", verification_id, destination_hash, client_ip, number_prefix, *self.limits.argv(),
            "1" if channel == "sms" else "0", ttl_s * 1000, idempotency_key, purpose, flow_id, channel,
            destination, kid, nonce.hex(), self.limits.max_checks)
        return self._sent(reply)

    async def resend(self, *, verification_id: str, purpose: str, flow_id: str, client_ip: str,
                     number_prefix: str) -> Sent:
        reply = await self._run(
            "resend", verification_id, "", client_ip, number_prefix, *self.limits.argv(),
            self.limits.resend_cooldown_s * 1000, purpose, flow_id)
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

    async def check(self, *, verification_id: str, purpose: str, flow_id: str, code_ok: bool) -> CheckOutcome:
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

    async def load(self, verification_id: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(f"{self.prefix}v:{verification_id}")
        return {_text(k): _text(v) for k, v in raw.items()} or None

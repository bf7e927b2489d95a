"""Authentication of partner facilities on the partner gRPC APIs (CONTRACT.md §5).

Every call carries metadata ``x-cons-id`` (the facility code), ``x-timestamp`` (Unix
seconds) and ``x-signature`` = base64(HMAC-SHA256(secret, "{cons_id}&{timestamp}")).
A call is accepted when the facility is known, the timestamp is within ±300 s of now and
the signature matches (constant-time). mTLS sits on top in production. Used by membership
and queue alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import grpc

from services.kit.errors import Unauthenticated

MAX_SKEW_S = 300


def sign(secret: str, cons_id: str, timestamp: int) -> str:
    """The signature a partner sends (also what partner SDKs and our tests compute)."""
    digest = hmac.new(secret.encode(), f"{cons_id}&{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_metadata(secret: str, cons_id: str, timestamp: int | None = None) -> tuple[tuple[str, str], ...]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return (("x-cons-id", cons_id), ("x-timestamp", str(timestamp)), ("x-signature", sign(secret, cons_id, timestamp)))


class PartnerSecrets:
    """Facility code → shared secret: from ``"CODE:secret,CODE2:secret2"``; in dev, any facility
    ``X`` also has the contract's dev secret ``dev-secret-X``."""

    def __init__(self, configured: str, *, dev_fallback: bool):
        self._secrets = {}
        for part in (p.strip() for p in configured.split(",") if p.strip()):
            code, _, secret = part.partition(":")
            self._secrets[code] = secret
        self.dev_fallback = dev_fallback

    def secret_of(self, cons_id: str) -> str | None:
        if cons_id in self._secrets:
            return self._secrets[cons_id]
        return f"dev-secret-{cons_id}" if self.dev_fallback and cons_id else None


def authenticate(context: grpc.aio.ServicerContext, secrets: PartnerSecrets, *, now: float | None = None) -> str:
    """The calling facility's code, or `Unauthenticated` (the same answer for every failure)."""
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    cons_id, stamp, signature = (metadata.get(k, "") for k in ("x-cons-id", "x-timestamp", "x-signature"))
    secret = secrets.secret_of(cons_id)
    now = time.time() if now is None else now
    valid_time = stamp.isdigit() and abs(now - int(stamp)) <= MAX_SKEW_S
    expected = sign(secret or "-", cons_id, int(stamp) if stamp.isdigit() else 0)
    if not (secret and valid_time and hmac.compare_digest(expected, signature)):
        raise Unauthenticated("partner signature invalid")
    return cons_id

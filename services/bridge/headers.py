"""The BPJS headers of every bridge request (CONTRACT.md §8, the §5 signature).

- Rule 1: ``X-cons-id`` (the facility code), ``X-timestamp`` (Unix seconds within ±300 s of
  now), ``X-signature`` = base64(HMAC-SHA256(secret, "{cons_id}&{timestamp}")) and a non-empty
  ``user_key`` are required; a facility with a configured user key must send exactly it (in
  prod every facility needs one; outside prod any non-empty value will do for one not listed).
- Rule 2: any failure is the same refusal (HTTP 401, metadata code 401), so nothing tells which
  part was wrong.
- Rule 3: the bridge only checks; queue and membership check the same signature again, because
  the bridge forwards it unchanged (`Caller.metadata`), so a facility acts on its own data only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import Headers

from services.kit.partner_auth import MAX_SKEW_S, PartnerSecrets, sign


class Unauthorised(Exception):
    """Rule 2."""


@dataclass(frozen=True)
class Caller:
    cons_id: str
    timestamp: str
    signature: str
    secret: str

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Rule 3: the partner gRPC metadata, the signature as the facility made it."""
        return (("x-cons-id", self.cons_id), ("x-timestamp", self.timestamp), ("x-signature", self.signature))


class UserKeys:
    """Facility code → user_key, from ``"CODE:key,CODE2:key2"``; with ``any_key`` (dev and test) a
    facility not listed may send any non-empty user_key, otherwise it is refused."""

    def __init__(self, configured: str, *, any_key: bool):
        pairs = (p.strip().partition(":") for p in configured.split(",") if ":" in p)
        self._keys = {code.strip(): key.strip() for code, _, key in pairs if code.strip()}
        self.any_key = any_key

    def accepts(self, cons_id: str, user_key: str) -> bool:
        expected = self._keys.get(cons_id)
        if expected is None:
            return self.any_key and bool(user_key)
        return hmac.compare_digest(expected.encode(), user_key.encode())


def authenticate(headers: Headers, secrets: PartnerSecrets, user_keys: UserKeys, *, now: float) -> Caller:
    """Rules 1 and 2: the calling facility, or `Unauthorised`."""
    cons_id = headers.get("x-cons-id", "").strip()
    stamp = headers.get("x-timestamp", "").strip()
    signature = headers.get("x-signature", "").strip()
    user_key = headers.get("user_key", headers.get("user-key", "")).strip()
    secret = secrets.secret_of(cons_id) if 0 < len(cons_id) <= 32 else None
    fresh = stamp.isdigit() and len(stamp) <= 12 and abs(now - int(stamp)) <= MAX_SKEW_S
    expected = sign(secret or "-", cons_id, int(stamp) if fresh else 0)
    if not (secret and fresh and hmac.compare_digest(expected.encode(), signature.encode())
            and user_keys.accepts(cons_id, user_key)):
        raise Unauthorised
    return Caller(cons_id=cons_id, timestamp=stamp, signature=signature, secret=secret)

"""Delivery reports of the HTTP SMS gateway: its signed callback, relayed by the gateway
(``POST /v1/sms-delivery-reports``), updates the delivery status of the send it names.

- Rule 1: a report is accepted only with ``X-Signature = hex(HMAC-SHA256(secret, raw body))``
  (the payment webhook's scheme); anything else is UNAUTHENTICATED, before the body is read.
- Rule 2: the body is JSON ``{reference, status, timestamp}``; ``reference`` is the request id
  notify sent the message with. ``DELIVERED``/``SENT``/``ACCEPTED`` mean the operator took it
  (``SENT``); ``FAILED``/``UNDELIVERED``/``REJECTED``/``EXPIRED`` mean it will never arrive
  (``FAILED``). Any other status, or a body that is not such an object, is VALIDATION_ERROR.
- Rule 3: idempotent: a send only moves forwards (QUEUED → SENT → FAILED), so a repeated or
  late report changes nothing and says ``duplicate``; an unknown reference is NOT_FOUND.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import asyncpg

from services.kit.errors import NotFound, Unauthenticated, ValidationFailed
from services.kit.logs import get_logger
from services.notify import events, metrics
from services.notify.otp_store import OtpStore

log = get_logger("jkn.notify.delivery_reports")
PROVIDER = "http_sms"
#: Rule 2: the gateway's words → ours.
STATUSES = {"DELIVERED": "sent", "SENT": "sent", "ACCEPTED": "sent", "FAILED": "failed", "UNDELIVERED": "failed",
            "REJECTED": "failed", "EXPIRED": "failed"}


def verify_signature(secret: str, raw_body: bytes, signature: str) -> None:
    """Rule 1."""
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace")):
        raise Unauthenticated("bad delivery report signature")


@dataclass(frozen=True)
class Report:
    reference: str
    status: str  # sent | failed


def parse_report(raw_body: bytes) -> Report:
    """Rule 2."""
    try:
        body = json.loads(raw_body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ValidationFailed([{"field": "body", "code": "invalid", "message": "a JSON object"}])
    reference, status = body.get("reference"), body.get("status")
    errors = []
    if not isinstance(reference, str) or not 0 < len(reference) <= 256:
        errors.append({"field": "reference", "code": "required", "message": "the message reference"})
    if not isinstance(status, str) or status.upper() not in STATUSES:
        errors.append({"field": "status", "code": "invalid", "message": ", ".join(sorted(STATUSES))})
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(reference, str) and isinstance(status, str)
    return Report(reference, STATUSES[status.upper()])


async def handle(*, store: OtpStore, pool: asyncpg.Pool, secret: str, raw_body: bytes, signature: str
                 ) -> tuple[str, bool]:
    """Rules 1–3: the send's status after the report, and whether the report was a duplicate."""
    verify_signature(secret, raw_body, signature)
    report = parse_report(raw_body)
    change = await store.record_delivery(report.reference, status=report.status, provider=PROVIDER)
    if change is None:
        raise NotFound("no such message")
    if change.changed:
        metrics.OTP_DELIVERY_STATUS.labels(change.channel, PROVIDER, change.status).inc()
        await events.delivery_status_changed(pool, request_id=report.reference, change=change, provider=PROVIDER)
    log.info("delivery_report", extra={"verification_id": change.verification_id, "status": change.status,
                                       "duplicate": not change.changed})
    return change.status, not change.changed

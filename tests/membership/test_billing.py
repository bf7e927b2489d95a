"""Billing (`billing`): a payment for a family's arrears, and the provider's callback settling it —
the bills paid, the family AKTIF, and what is announced — against membership's real database."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from jkn.membership.v1 import events_pb2, membership_pb2
from services.kit.clock import jakarta_now, jakarta_today
from services.kit.errors import DomainError
from services.kit.events import event_type
from services.membership import billing

SITI = "0002345678904"  # TIDAK_AKTIF, three unpaid months of Rp35,000 (CONTRACT.md §6)
SECRET = "test-payment-secret"


def signed(payment, *, ref: str) -> tuple[bytes, str]:
    body = json.dumps({"payment_id": str(payment["id"]), "virtual_account": payment["virtual_account"],
                       "amount": payment["amount_idr"], "paid_at": jakarta_now().isoformat(),
                       "provider_ref": ref}).encode()
    return body, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_paying_every_arrear_activates_the_family_and_announces_payment_and_status(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    assert payment["amount_idr"] == 105_000 and len(payment["periods"]) == 3
    body, signature = signed(payment, ref="PRV-BILLING-1")

    settled = await billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                                   today=jakarta_today())
    assert settled == billing.Settlement(payment_id=str(payment["id"]), replayed=False, amount_idr=105_000)
    assert (await billing.bills(membership_db, noka=SITI, today=jakarta_today())).arrears_total_idr == 0
    family_id = await membership_db.fetchval("SELECT family_id FROM participants WHERE noka = $1", SITI)
    rows = await membership_db.fetch("SELECT key, event_type, payload FROM outbox ORDER BY id")
    assert [(r["key"].decode(), r["event_type"]) for r in rows] == [
        (str(family_id), event_type(events_pb2.PaymentReceived)), (SITI, event_type(events_pb2.StatusChanged))]
    received = events_pb2.PaymentReceived.FromString(rows[0]["payload"])
    assert (received.payment_id, received.amount_idr, list(received.nokas)) == (str(payment["id"]), 105_000, [SITI])
    assert sorted(received.periods) == sorted(payment["periods"])
    assert events_pb2.StatusChanged.FromString(rows[1]["payload"]) == events_pb2.StatusChanged(
        noka=SITI, status=membership_pb2.PARTICIPANT_STATUS_AKTIF,
        status_reason=membership_pb2.STATUS_REASON_UNSPECIFIED)

    replay = await billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                                  today=jakarta_today())
    assert replay == billing.Settlement(payment_id=str(payment["id"]), replayed=True, amount_idr=0)
    assert await membership_db.fetchval("SELECT count(*) FROM outbox") == 2  # a replay announces nothing


async def test_a_forged_callback_is_refused_before_anything_is_read(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    body, _ = signed(payment, ref="PRV-BILLING-2")
    with pytest.raises(DomainError) as refused:
        await billing.settle(membership_db, secret=SECRET, raw_body=body, signature="00" * 32,
                             today=jakarta_today())
    assert refused.value.code == "UNAUTHENTICATED"
    assert await membership_db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_malformed_period_is_refused_before_the_participant_is_looked_up(membership_db):
    with pytest.raises(DomainError) as refused:
        await billing.create_payment(membership_db, noka="0009999999999", periods=["2026-1"])
    assert refused.value.code == "VALIDATION_ERROR" and refused.value.fields["errors"][0]["field"] == "periods"

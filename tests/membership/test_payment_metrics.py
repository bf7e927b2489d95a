"""Payment metrics move with real payments: a virtual account opened, the provider's signed webhook
accepted (with its rupiah), replayed and forged — read from membership's own /metrics."""

from __future__ import annotations

import hashlib
import hmac
import json

import grpc
import httpx
from prometheus_client.parser import text_string_to_metric_families

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from services.kit.clock import jakarta_now, jakarta_today
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings

SITI = "0002345678904"  # three unpaid months (CONTRACT.md §6)


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def payments(values: dict, result: str) -> float:
    return values[("membership_payments_total", (("result", result),))]


async def test_payments_are_counted_created_paid_duplicate_and_rejected_with_the_rupiah_paid(service, gateway_client):
    today = jakarta_today()
    async with (service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today) as queue,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today,
                        queue_addr=queue.address) as membership,
                grpc.aio.insecure_channel(membership.address) as channel):
        before = await scrape(membership.metrics_port)
        stub = membership_pb2_grpc.MembershipServiceStub(channel)
        payment = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
        body = json.dumps({"payment_id": payment.payment_id, "virtual_account": payment.virtual_account,
                           "amount": payment.amount_idr, "paid_at": jakarta_now().isoformat(),
                           "provider_ref": "PRV-METRICS-1"}).encode()
        signature = hmac.new(b"dev-payment-secret", body, hashlib.sha256).hexdigest()
        async with gateway_client({"membership": membership.address, "queue": queue.address}) as (_, client):
            forged = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": "00" * 32})
            paid = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": signature})
            replay = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": signature})
        after = await scrape(membership.metrics_port)
    assert (forged.status_code, paid.status_code, replay.status_code) == (401, 200, 200)
    moved = {result: payments(after, result) - payments(before, result)
             for result in ("created", "paid", "duplicate", "rejected")}
    assert moved == {"created": 1, "paid": 1, "duplicate": 1, "rejected": 1}
    amount = ("membership_payment_amount_idr_total", ())
    assert after[amount] - before[amount] == payment.amount_idr > 0


async def test_through_the_webhook_racing_duplicates_all_answer_200_late_money_is_settled_and_bad_input_is_422(
        service, gateway_client):
    import asyncio

    def signed(payment, ref: str, **change) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"payment_id": payment.payment_id, "virtual_account": payment.virtual_account,
                           "amount": payment.amount_idr, "paid_at": jakarta_now().isoformat(), "provider_ref": ref,
                           **change}).encode()
        return body, {"X-Signature": hmac.new(b"dev-payment-secret", body, hashlib.sha256).hexdigest()}

    today = jakarta_today()
    async with (service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today) as queue,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today,
                        queue_addr=queue.address) as membership,
                grpc.aio.insecure_channel(membership.address) as channel):
        stub = membership_pb2_grpc.MembershipServiceStub(channel)
        first = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
        newer = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(
            noka=SITI, periods=[sorted(first.periods)[0]]))).payment
        before = await scrape(membership.metrics_port)
        async with gateway_client({"membership": membership.address, "queue": queue.address}) as (_, client):
            naive, naive_headers = signed(first, "PRV-WEBHOOK-0", paid_at="2026-11-21T10:30:00")
            malformed = [await client.post("/v1/payment-callbacks", content=naive, headers=naive_headers)
                         for _ in range(2)]
            body, headers = signed(first, "PRV-WEBHOOK-1")
            raced = await asyncio.gather(*(client.post("/v1/payment-callbacks", content=body, headers=headers)
                                           for _ in range(10)))
            body, headers = signed(newer, "PRV-WEBHOOK-2")
            overpaid = await client.post("/v1/payment-callbacks", content=body, headers=headers)
        after = await scrape(membership.metrics_port)
    assert [(r.status_code, r.json()["code"], [e["field"] for e in r.json()["errors"]]) for r in malformed] == [
        (422, "VALIDATION_ERROR", ["paid_at"])] * 2
    assert [r.status_code for r in raced] == [200] * 10
    assert sorted(r.json()["replayed"] for r in raced) == [False] + [True] * 9
    assert {r.json()["payment_id"] for r in raced} == {first.payment_id}
    assert overpaid.status_code == 200 and overpaid.json()["replayed"] is False
    moved = {result: payments(after, result) - payments(before, result)
             for result in ("paid", "settled_late", "duplicate", "rejected")}
    assert moved == {"paid": 0, "settled_late": 2, "duplicate": 9, "rejected": 2}
    reconciled = ("membership_payment_overpaid_amount_idr_total", ())
    assert after[reconciled] - before[reconciled] == newer.amount_idr

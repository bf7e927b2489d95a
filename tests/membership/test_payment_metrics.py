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

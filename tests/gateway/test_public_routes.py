"""Public routes through the gateway against the real services (demo data of CONTRACT.md §6)."""

from __future__ import annotations

import hashlib
import hmac
import json

import grpc
import jwt
import pytest

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from services.kit.clock import jakarta_now, jakarta_today
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings


@pytest.fixture
async def seeded(service):
    today = jakarta_today()
    async with (service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today) as queue,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today,
                        queue_addr=queue.address) as membership):
        yield {"queue": queue.address, "membership": membership.address}


async def test_facilities_nearest_first(seeded, gateway_client):
    async with gateway_client(seeded) as (_, client):
        near = await client.get("/v1/facilities", params={"type": "FKTP", "lat": -6.196, "lon": 106.83,
                                                          "radius_km": 5})
        bad = await client.get("/v1/facilities", params={"type": "RS", "lat": 100})
    assert near.status_code == 200
    items = near.json()["items"]
    assert items[0]["code"] == "0114U001" and items[0]["distance_km"] < 1
    assert {i["type"] for i in items} == {"FKTP"}
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"type", "lat"}


async def test_card_keys_verify_a_card_fetched_from_membership(seeded, gateway_client):
    async with gateway_client(seeded) as (_, client):
        keys = (await client.get("/v1/card-keys")).json()["keys"]
    async with grpc.aio.insecure_channel(seeded["membership"]) as channel:
        card = (await membership_pb2_grpc.MembershipServiceStub(channel).GetCard(
            membership_pb2.GetCardRequest(noka="0001234567801"))).card
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == card.key_id))
    assert jwt.decode(card.qr_payload, key=key, algorithms=["EdDSA"])["noka"] == "0001234567801"


async def test_signed_webhook_pays_siti_and_a_forged_one_is_401(seeded, gateway_client):
    async with grpc.aio.insecure_channel(seeded["membership"]) as channel:
        stub = membership_pb2_grpc.MembershipServiceStub(channel)
        payment = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka="0002345678904"))).payment
        body = json.dumps({"payment_id": payment.payment_id, "virtual_account": payment.virtual_account,
                           "amount": payment.amount_idr, "paid_at": jakarta_now().isoformat(),
                           "provider_ref": "PRV-GW-1"}).encode()
        good = hmac.new(b"dev-payment-secret", body, hashlib.sha256).hexdigest()
        async with gateway_client(seeded) as (_, client):
            forged = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": "00" * 32})
            unsigned = await client.post("/v1/payment-callbacks", content=body)
            paid = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": good})
            replay = await client.post("/v1/payment-callbacks", content=body, headers={"X-Signature": good})
        siti = await stub.GetMembership(membership_pb2.GetMembershipRequest(noka="0002345678904"))
    assert forged.status_code == 401 and forged.json()["code"] == "UNAUTHENTICATED"
    assert unsigned.status_code == 422
    assert paid.status_code == 200 and paid.json()["replayed"] is False
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert siti.participant.status == membership_pb2.PARTICIPANT_STATUS_AKTIF

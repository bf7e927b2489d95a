"""The reschedule and waitlist routes (CONTRACT.md §7) through the gateway app, in front of real
auth, membership and queue with the demo data: the contract's fields and codes, a refusal of
queue's rules reaching the client with its own status and code, and another person's entry a 404."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc
from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.kit.channels import open_channel
from services.kit.clock import jakarta_today
from services.kit.partner_auth import signed_metadata
from services.kit.signing import load_signing_keys
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests.factories import BUDI, DEWI, RUDI, SRI, access_token

PROBLEM = "application/problem+json"
BUDI_INT = "0114U0011126Y000001"
PARTNER = partner_pb2.DESCRIPTOR.services_by_name["PartnerQueueService"]


@pytest.fixture
async def addresses(service):
    today = jakarta_today()
    async with (service(AuthSettings, build_auth) as auth,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today) as membership,
                service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today,
                        membership_addr=membership.address) as queue):
        yield {"auth": auth.address, "queue": queue.address, "membership": membership.address}


def bearer(noka: str) -> dict[str, str]:
    account = str(uuid.uuid5(uuid.NAMESPACE_OID, f"gateway-waitlist:{noka}"))
    token = access_token(load_signing_keys("dev-jwt-signing-key")[0], account_id=account, noka=noka)
    return {"Authorization": f"Bearer {token}"}


async def _dentist(client, day) -> dict:
    reply = await client.get("/v1/facilities/0114U001/schedules", params={"date": day.isoformat(), "poli": "002"})
    (item,) = reply.json()["items"]
    return item


def _problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM and response.json()["code"] == code


async def test_the_waitlist_and_reschedule_speak_the_contract(addresses, gateway_client):
    day = jakarta_today() + timedelta(days=1)
    dewi, rudi, sri = bearer(DEWI.noka), bearer(RUDI.noka), bearer(SRI.noka)
    async with gateway_client(addresses) as (_, client):
        dentist = await _dentist(client, day)
        session = {"schedule_id": dentist["schedule_id"], "date": day.isoformat()}
        _problem(await client.post("/v1/waitlist", json=session, headers=sri), 409, "SEATS_AVAILABLE")
        held = [await client.post("/v1/bookings", json=session, headers=who) for who in (dewi, rudi)]
        assert [r.status_code for r in held] == [201, 201]

        joined = await client.post("/v1/waitlist", json={**session, "auto_accept": False}, headers=sri)
        assert joined.status_code == 201, joined.text
        entry = joined.json()
        assert {"waitlist_id", "status", "position", "schedule_id", "date", "noka"} <= set(entry)
        assert (entry["status"], entry["position"], entry["noka"], entry["date"]) == (
            "WAITING", 1, SRI.noka, day.isoformat())
        _problem(await client.post("/v1/waitlist", json=session, headers=sri), 409, "DUPLICATE_BOOKING")
        _problem(await client.post(f"/v1/waitlist/{entry['waitlist_id']}/accept", headers=sri), 409, "NOT_OFFERED")
        _problem(await client.delete(f"/v1/waitlist/{entry['waitlist_id']}", headers=dewi), 404, "NOT_FOUND")
        _problem(await client.post("/v1/waitlist", json={**session, "date": "31-12-2026"}, headers=sri), 422,
                 "VALIDATION_ERROR")

        # Dewi moves to the general practitioner: Sri's entry is offered Dewi's seat
        general = (await client.get("/v1/facilities/0114U001/schedules",
                                    params={"date": day.isoformat(), "poli": "001"})).json()["items"][0]
        code = held[0].json()["booking_code"]
        moved = await client.post(f"/v1/bookings/{code}/reschedule", headers=dewi,
                                  json={"schedule_id": general["schedule_id"], "date": day.isoformat()})
        assert moved.status_code == 201, moved.text
        assert moved.json()["status"] == "BOOKED" and moved.json()["poli"]["code"] == "001"
        old = (await client.get(f"/v1/bookings/{code}", headers=dewi)).json()
        assert (old["status"], old["cancel_reason"], old["rescheduled_to"]) == (
            "CANCELLED", "RESCHEDULED", moved.json()["booking_code"])
        assert old["alternatives"] == []
        _problem(await client.post(f"/v1/bookings/{code}/reschedule", headers=dewi, json=session), 409,
                 "BOOKING_NOT_CANCELLABLE")
        # a move into the full session keeps the booking as it was
        _problem(await client.post(f"/v1/bookings/{moved.json()['booking_code']}/reschedule", headers=dewi,
                                   json=session), 409, "QUOTA_FULL")

        (offered,) = (await client.get("/v1/waitlist", headers=sri)).json()["items"]
        assert offered["status"] == "OFFERED" and offered["offer_expires_at"] and offered["position"] == 0
        accepted = await client.post(f"/v1/waitlist/{entry['waitlist_id']}/accept", headers=sri)
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["noka"] == SRI.noka and accepted.json()["schedule_id"] == dentist["schedule_id"]
        left = await client.delete(f"/v1/waitlist/{entry['waitlist_id']}", headers=sri)
        assert left.status_code == 204  # an ended entry: nothing to leave


async def test_a_doctors_absence_lists_alternatives_on_the_booking(addresses, gateway_client):
    day, tomorrow = jakarta_today() + timedelta(days=2), jakarta_today() + timedelta(days=1)
    budi = bearer(BUDI.noka)
    async with gateway_client(addresses) as (_, client):
        internist = (await client.get("/v1/facilities/0114R001/schedules",
                                      params={"date": day.isoformat(), "poli": "INT"})).json()["items"][0]
        booked = await client.post("/v1/bookings", headers=budi, json={
            "schedule_id": internist["schedule_id"], "date": day.isoformat(), "referral_number": BUDI_INT})
        assert booked.status_code == 201, booked.text
        async with open_channel(addresses["queue"], [PARTNER], timeout_s=10) as channel:
            await partner_pb2_grpc.PartnerQueueServiceStub(channel).UpsertSchedule(partner_pb2.UpsertScheduleRequest(
                poli_code="INT", doctor_code=internist["doctor"]["code"], doctor_name=internist["doctor"]["name"],
                date=day.isoformat(), start=internist["start"], end=internist["end"], quota_jkn=30, closed=True),
                metadata=signed_metadata("dev-secret-0114R001", "0114R001"))
        code = booked.json()["booking_code"]
        absent = (await client.get(f"/v1/bookings/{code}", headers=budi)).json()
        assert (absent["status"], absent["cancel_reason"]) == ("CANCELLED", "DOCTOR_ABSENT")
        first = absent["alternatives"][0]
        assert set(first) == {"schedule_id", "date", "doctor", "start", "remaining_jkn"}
        assert (first["date"], first["start"], first["remaining_jkn"]) == (tomorrow.isoformat(), "08:00", 30)
        moved = await client.post(f"/v1/bookings/{code}/reschedule", headers=budi,
                                  json={"schedule_id": first["schedule_id"], "date": first["date"]})
        assert moved.status_code == 201, moved.text
        assert moved.json()["referral_number"] == BUDI_INT and moved.json()["rescheduled_from"] == code

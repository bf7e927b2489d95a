"""Taking a queue number from home, through the gateway of a running stack (CONTRACT.md §4, §6):
Budi's hospital visit on his referral, the two-seat dentist at six in the morning, a retried
request, and the hospital's own view over the partner API."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import grpc
import httpx
import jwt
import pytest

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc
from services.devstack.launch import Stack
from services.kit.clock import jakarta_now
from services.kit.errors import decode_rpc_error
from services.kit.partner_auth import signed_metadata
from tests.factories import DEWI, RUDI, activate, bearer

pytestmark = pytest.mark.e2e
PASSWORD = "Antre#Sehat2026"
BUDI = {"identifier": "0001234567801", "birth_date": "1980-01-15", "phone": "081234500001",
        "email": "budi.antre@example.id"}
SITI = {"identifier": "0002345678904", "birth_date": "1985-06-05", "phone": "081234500004",
        "email": "siti.antre@example.id"}
SRI, ANDI = "0001234567802", "0001234567803"
REFERRAL_INT, EXPIRED_INT = "0114U0011126Y000001", "0114U0011126Y000009"




@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, dict[str, str]]:
    """Budi and Siti activate their accounts; Dewi and Rudi have theirs (demo data)."""
    activate(stack.gateway, {**BUDI, "password": PASSWORD})
    activate(stack.gateway, {**SITI, "password": PASSWORD})
    return {"budi": bearer(stack.gateway, BUDI["identifier"], PASSWORD),
            "siti": bearer(stack.gateway, SITI["identifier"], PASSWORD),
            "dewi": bearer(stack.gateway, DEWI.noka, DEWI.password or ""),
            "rudi": bearer(stack.gateway, RUDI.noka, RUDI.password or "")}


def schedule(stack: Stack, facility: str, poli: str, day) -> dict:
    reply = httpx.get(f"{stack.gateway}/v1/facilities/{facility}/schedules",
                      params={"date": day.isoformat(), "poli": poli})
    assert reply.status_code == 200, reply.text
    (item,) = reply.json()["items"]
    return item


def book(stack: Stack, who: dict[str, str], item: dict, day, **fields) -> httpx.Response:
    headers = {**who, **({"Idempotency-Key": fields.pop("key")} if "key" in fields else {})}
    return httpx.post(f"{stack.gateway}/v1/bookings", headers=headers,
                      json={"schedule_id": item["schedule_id"], "date": day.isoformat(), **fields})


def test_budi_books_internal_medicine_on_his_referral_and_every_rule_answers_with_its_code(stack, people):
    tomorrow = jakarta_now().date() + timedelta(days=1)
    claims = jwt.decode(people["budi"]["Authorization"].split()[1], options={"verify_signature": False})
    assert claims["noka"] == BUDI["identifier"]  # the gateway reads whose data it is from the token
    internist = schedule(stack, "0114R001", "INT", tomorrow)
    assert internist["doctor"]["name"] == "dr. Andi Wijaya, Sp.PD" and internist["remaining_jkn"] == 30
    assert (internist["start"], internist["end"], internist["quota_jkn"]) == ("08:00", "12:00", 30)

    booked = book(stack, people["budi"], internist, tomorrow, referral_number=REFERRAL_INT)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert (body["queue_number"], body["queue_seq"], body["status"]) == ("INT-1", 1, "BOOKED")
    assert body["estimated_service_at"] == f"{tomorrow.isoformat()}T08:00:00+07:00"
    assert body["remaining_jkn"] == 29 and body["new_patient"] is True and body["noka"] == BUDI["identifier"]

    refusals = {
        "DUPLICATE_BOOKING": book(stack, people["budi"], internist, tomorrow, referral_number=REFERRAL_INT),
        "REFERRAL_REQUIRED": book(stack, people["budi"], internist, tomorrow),
        "REFERRAL_INVALID": book(stack, people["budi"], internist, tomorrow, referral_number=EXPIRED_INT),
        "BOOKING_WINDOW": book(stack, people["budi"], internist, tomorrow - timedelta(days=1),
                               referral_number=REFERRAL_INT),
        "PARTICIPANT_INACTIVE": book(stack, people["siti"], internist, tomorrow, referral_number=REFERRAL_INT),
    }
    status = {"DUPLICATE_BOOKING": 409, "REFERRAL_REQUIRED": 422, "REFERRAL_INVALID": 422, "BOOKING_WINDOW": 422,
              "PARTICIPANT_INACTIVE": 403}
    for code, reply in refusals.items():
        assert (reply.status_code, reply.json()["code"]) == (status[code], code), reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")

    mine = httpx.get(f"{stack.gateway}/v1/bookings/{body['booking_code']}", headers=people["budi"]).json()
    assert mine["ahead"] == 0 and mine["now_serving"] is None
    listed = httpx.get(f"{stack.gateway}/v1/bookings", headers=people["budi"]).json()["items"]
    assert body["booking_code"] in {b["booking_code"] for b in listed}
    for who in ("dewi", "siti"):  # someone else's booking does not exist for them
        other = httpx.get(f"{stack.gateway}/v1/bookings/{body['booking_code']}", headers=people[who])
        assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND"
        cancel = httpx.post(f"{stack.gateway}/v1/bookings/{body['booking_code']}/cancel", headers=people[who],
                            json={"reason": "x"})
        assert cancel.status_code == 404

    # Booking confirmed: queue → Kafka → auth (owns the phone) → notify → SMS (the dev outbox here).
    confirmation = _wait_for_sms(stack, "+6281234500001", "INT-1")
    assert body["booking_code"] in confirmation["body"]


def _wait_for_sms(stack: Stack, to: str, text: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for item in httpx.get(f"{stack.gateway}/dev/outbox", params={"to": to}).json()["items"]:
            if text in item["body"]:
                return item
        time.sleep(0.3)
    raise AssertionError(f"no SMS with {text!r} reached {to}")


def test_budi_cannot_book_at_a_clinic_that_is_not_his(stack, people):
    today = jakarta_now().date()
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['queue']}") as channel:
        partner_pb2_grpc.PartnerQueueServiceStub(channel).UpsertWeeklySchedule(
            partner_pb2.UpsertWeeklyScheduleRequest(poli_code="001", doctor_code="D0114U21", doctor_name="dr. Tono",
                                                    weekdays=list(range(1, 8)), start="00:00", end="23:59",
                                                    quota_jkn=30), metadata=signed_metadata("dev-secret-0114U002",
                                                                                            "0114U002"))
    puskesmas = schedule(stack, "0114U002", "001", today)
    reply = book(stack, people["budi"], puskesmas, today)
    assert (reply.status_code, reply.json()["code"]) == (422, "FACILITY_NOT_REGISTERED")


def test_five_press_at_once_for_the_dentists_two_seats_and_a_cancellation_frees_exactly_one(stack, people):
    tomorrow = jakarta_now().date() + timedelta(days=1)
    dentist = schedule(stack, "0114U001", "002", tomorrow)
    assert dentist["doctor"]["name"] == "drg. Bayu" and dentist["remaining_jkn"] == 2
    attempts = [("budi", {}), ("budi", {"noka": SRI}), ("budi", {"noka": ANDI}), ("dewi", {}), ("rudi", {})]

    async def rush() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as client:
            return await asyncio.gather(*(client.post("/v1/bookings", headers=people[who], json={
                "schedule_id": dentist["schedule_id"], "date": tomorrow.isoformat(), **extra})
                for who, extra in attempts))

    replies = asyncio.run(rush())
    assert sorted(r.status_code for r in replies) == [201, 201, 409, 409, 409], [r.text for r in replies]
    assert {r.json()["code"] for r in replies if r.status_code == 409} == {"QUOTA_FULL"}
    winners = [(who, r.json()) for (who, _), r in zip(attempts, replies, strict=True) if r.status_code == 201]
    assert sorted(b["queue_number"] for _, b in winners) == ["002-1", "002-2"]
    assert schedule(stack, "0114U001", "002", tomorrow)["remaining_jkn"] == 0

    who, first = winners[0]
    cancelled = httpx.post(f"{stack.gateway}/v1/bookings/{first['booking_code']}/cancel", headers=people[who],
                           json={"reason": "Sudah sembuh"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert schedule(stack, "0114U001", "002", tomorrow)["remaining_jkn"] == 1
    again = httpx.post(f"{stack.gateway}/v1/bookings/{first['booking_code']}/cancel", headers=people[who], json={})
    assert (again.status_code, again.json()["code"]) == (409, "BOOKING_NOT_CANCELLABLE")
    losers = [(w, extra) for (w, extra), r in zip(attempts, replies, strict=True) if r.status_code == 409]
    retries = [book(stack, people[w], dentist, tomorrow, **extra) for w, extra in losers]
    assert sorted(r.status_code for r in retries) == [201, 409, 409]
    assert [r.json()["queue_number"] for r in retries if r.status_code == 201] == ["002-3"]


def test_a_retried_request_with_the_same_idempotency_key_books_once(stack, people):
    tomorrow = jakarta_now().date() + timedelta(days=1)
    general = schedule(stack, "0114U001", "001", tomorrow)
    key = str(uuid.uuid4())
    first = book(stack, people["rudi"], general, tomorrow, key=key)
    second = book(stack, people["rudi"], general, tomorrow, key=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert schedule(stack, "0114U001", "001", tomorrow)["remaining_jkn"] == general["remaining_jkn"] - 1


def test_the_hospital_sees_its_own_bookings_only_and_a_bad_signature_is_refused(stack, people):
    tomorrow = jakarta_now().date() + timedelta(days=1)
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['queue']}") as channel:
        partner = partner_pb2_grpc.PartnerQueueServiceStub(channel)
        hospital = signed_metadata("dev-secret-0114R001", "0114R001")
        listed = partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
            date=tomorrow.isoformat()), metadata=hospital)
        assert {b.facility.code for b in listed.bookings} <= {"0114R001"}
        clinic_booking = httpx.get(f"{stack.gateway}/v1/bookings", headers=people["rudi"]).json()["items"][0]
        with pytest.raises(grpc.RpcError) as denied:
            partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
                booking_code=clinic_booking["booking_code"], reason="x"), metadata=hospital)
        assert decode_rpc_error(denied.value).code == "PERMISSION_DENIED"
        with pytest.raises(grpc.RpcError) as forged:
            partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(date=tomorrow.isoformat()),
                                 metadata=signed_metadata("not-the-secret", "0114R001"))
        assert decode_rpc_error(forged.value).code == "UNAUTHENTICATED"

        # The hospital cancels Budi's visit: the seat is free again and Budi is told by SMS.
        budi_visit = next(b for b in listed.bookings if b.noka == BUDI["identifier"])
        partner.CancelBooking(partner_pb2.PartnerQueueServiceCancelBookingRequest(
            booking_code=budi_visit.booking_code, reason="Dokter cuti"), metadata=hospital)
    told = _wait_for_sms(stack, "+6281234500001", "dibatalkan")
    assert budi_visit.queue_number in told["body"] and "Dokter cuti" in told["body"]

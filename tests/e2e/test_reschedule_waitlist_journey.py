"""After taking a number, through the gateway of a running stack (CONTRACT.md §7 "Reschedule",
"Waitlist", "A doctor's absence"): Dewi moves her dentist visit and frees her seat for the family
waiting behind; a move into a full session changes nothing; Budi's internist does not come, and
Budi, told by SMS with the earliest alternative, moves in one call."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import grpc
import httpx
import pytest

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc
from services.devstack.launch import Stack
from services.kit.clock import jakarta_now
from services.kit.partner_auth import signed_metadata
from tests.factories import DEWI, RUDI, activate, bearer

pytestmark = pytest.mark.e2e
PASSWORD = "Tunggu#Sehat2026"
BUDI = {"identifier": "0001234567801", "birth_date": "1980-01-15", "phone": "081234500001",
        "email": "budi.tunggu@example.id"}
BUDI_PHONE, SRI = "+6281234500001", "0001234567802"
REFERRAL_INT = "0114U0011126Y000001"


@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, dict[str, str]]:
    activate(stack.gateway, {**BUDI, "password": PASSWORD})
    return {"budi": bearer(stack.gateway, BUDI["identifier"], PASSWORD),
            "dewi": bearer(stack.gateway, DEWI.noka, DEWI.password or ""),
            "rudi": bearer(stack.gateway, RUDI.noka, RUDI.password or "")}


def _schedule(stack: Stack, facility: str, poli: str, day) -> dict:
    reply = httpx.get(f"{stack.gateway}/v1/facilities/{facility}/schedules",
                      params={"date": day.isoformat(), "poli": poli})
    assert reply.status_code == 200, reply.text
    (item,) = reply.json()["items"]
    return item


def _post(stack: Stack, path: str, who: dict[str, str], body: dict, key: str | None = None) -> httpx.Response:
    headers = {**who, **({"Idempotency-Key": key} if key else {})}
    return httpx.post(f"{stack.gateway}{path}", headers=headers, json=body)


def _entry(stack: Stack, who: dict[str, str], waitlist_id: str) -> dict:
    reply = httpx.get(f"{stack.gateway}/v1/waitlist", headers=who)
    assert reply.status_code == 200, reply.text
    return next(e for e in reply.json()["items"] if e["waitlist_id"] == waitlist_id)


def _wait_for_sms(stack: Stack, to: str, text: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for item in httpx.get(f"{stack.gateway}/dev/outbox", params={"to": to}).json()["items"]:
            if text in item["body"]:
                return item
        time.sleep(0.3)
    raise AssertionError(f"no SMS with {text!r} reached {to}")


def test_a_freed_dentist_seat_goes_to_the_waitlist_and_a_held_one_is_accepted(stack, people):
    tomorrow = jakarta_now().date() + timedelta(days=1)
    dentist = _schedule(stack, "0114U001", "002", tomorrow)  # drg. Bayu: 2 seats
    general = _schedule(stack, "0114U001", "001", tomorrow)
    session = {"schedule_id": dentist["schedule_id"], "date": tomorrow.isoformat()}
    assert _post(stack, "/v1/waitlist", people["budi"], session).json()["code"] == "SEATS_AVAILABLE"
    dewi = _post(stack, "/v1/bookings", people["dewi"], session)
    rudi = _post(stack, "/v1/bookings", people["rudi"], session)
    assert dewi.status_code == rudi.status_code == 201, (dewi.text, rudi.text)

    for_sri = _post(stack, "/v1/waitlist", people["budi"], {**session, "noka": SRI})
    assert for_sri.status_code == 201, for_sri.text
    sri_entry = for_sri.json()
    assert (sri_entry["status"], sri_entry["position"], sri_entry["noka"]) == ("WAITING", 1, SRI)
    himself = _post(stack, "/v1/waitlist", people["budi"], {**session, "auto_accept": False})
    assert himself.status_code == 201 and himself.json()["position"] == 2
    again = _post(stack, "/v1/waitlist", people["budi"], {**session, "noka": SRI})
    assert (again.status_code, again.json()["code"]) == (409, "DUPLICATE_BOOKING")

    # Dewi moves to the general practitioner: her dentist seat goes to Sri at once
    key = str(uuid.uuid4())
    moved = _post(stack, f"/v1/bookings/{dewi.json()['booking_code']}/reschedule", people["dewi"],
                  {"schedule_id": general["schedule_id"], "date": tomorrow.isoformat()}, key=key)
    assert moved.status_code == 201, moved.text
    assert moved.json()["poli"]["code"] == "001" and moved.json()["rescheduled_from"] == dewi.json()["booking_code"]
    replay = _post(stack, f"/v1/bookings/{dewi.json()['booking_code']}/reschedule", people["dewi"],
                   {"schedule_id": general["schedule_id"], "date": tomorrow.isoformat()}, key=key)
    assert replay.status_code == 201 and replay.json() == moved.json()
    old = httpx.get(f"{stack.gateway}/v1/bookings/{dewi.json()['booking_code']}", headers=people["dewi"]).json()
    assert (old["status"], old["cancel_reason"], old["rescheduled_to"]) == (
        "CANCELLED", "RESCHEDULED", moved.json()["booking_code"])
    sri_now = _entry(stack, people["budi"], sri_entry["waitlist_id"])
    assert sri_now["status"] == "BOOKED" and sri_now["booking_code"]
    assert _entry(stack, people["budi"], himself.json()["waitlist_id"])["position"] == 1
    _wait_for_sms(stack, BUDI_PHONE, sri_now["booking_code"])  # told: booked from the waitlist

    # a move into the full dentist session is refused and Dewi's booking stays as it was
    full = _post(stack, f"/v1/bookings/{moved.json()['booking_code']}/reschedule", people["dewi"], session)
    assert (full.status_code, full.json()["code"]) == (409, "QUOTA_FULL")
    kept = httpx.get(f"{stack.gateway}/v1/bookings/{moved.json()['booking_code']}", headers=people["dewi"]).json()
    assert kept["status"] == "BOOKED" and "rescheduled_to" not in kept

    # Rudi cancels: the seat is held for Budi (no auto accept) and he takes it
    cancel = _post(stack, f"/v1/bookings/{rudi.json()['booking_code']}/cancel", people["rudi"], {"reason": "sembuh"})
    assert cancel.status_code == 200
    offer = _entry(stack, people["budi"], himself.json()["waitlist_id"])
    assert offer["status"] == "OFFERED" and offer["offer_expires_at"]
    _wait_for_sms(stack, BUDI_PHONE, "disimpan untuk Anda")
    accepted = _post(stack, f"/v1/waitlist/{offer['waitlist_id']}/accept", people["budi"], {})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["noka"] == BUDI["identifier"] and accepted.json()["poli"]["code"] == "002"
    # someone else's entry is not found; leaving an ended one is quiet
    other = httpx.delete(f"{stack.gateway}/v1/waitlist/{offer['waitlist_id']}", headers=people["rudi"])
    assert (other.status_code, other.json()["code"]) == (404, "NOT_FOUND")
    assert httpx.delete(f"{stack.gateway}/v1/waitlist/{offer['waitlist_id']}",
                        headers=people["budi"]).status_code == 204


def test_budis_internist_is_absent_he_is_told_and_moves_in_one_call(stack, people):
    day = jakarta_now().date() + timedelta(days=4)
    internist = _schedule(stack, "0114R001", "INT", day)
    booked = _post(stack, "/v1/bookings", people["budi"], {"schedule_id": internist["schedule_id"],
                                                           "date": day.isoformat(), "referral_number": REFERRAL_INT})
    assert booked.status_code == 201, booked.text
    code = booked.json()["booking_code"]
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['queue']}") as channel:
        partner_pb2_grpc.PartnerQueueServiceStub(channel).UpsertSchedule(partner_pb2.UpsertScheduleRequest(
            poli_code="INT", doctor_code=internist["doctor"]["code"], doctor_name=internist["doctor"]["name"],
            date=day.isoformat(), start="08:00", end="12:00", quota_jkn=30, quota_non_jkn=0, closed=True),
            metadata=signed_metadata("dev-secret-0114R001", "0114R001"), timeout=10)

    absent = httpx.get(f"{stack.gateway}/v1/bookings/{code}", headers=people["budi"]).json()
    assert (absent["status"], absent["cancel_reason"]) == ("CANCELLED", "DOCTOR_ABSENT")
    options = absent["alternatives"]
    assert options and [o["date"] for o in options] == sorted(o["date"] for o in options)
    assert set(options[0]) == {"schedule_id", "date", "doctor", "start", "remaining_jkn"}
    assert day.isoformat() not in {o["date"] for o in options}
    sms = _wait_for_sms(stack, BUDI_PHONE, "berhalangan")
    assert options[0]["date"] in sms["body"]

    moved = _post(stack, f"/v1/bookings/{code}/reschedule", people["budi"],
                  {"schedule_id": options[0]["schedule_id"], "date": options[0]["date"]})
    assert moved.status_code == 201, moved.text
    assert moved.json()["referral_number"] == REFERRAL_INT and moved.json()["date"] == options[0]["date"]
    twice = _post(stack, f"/v1/bookings/{code}/reschedule", people["budi"],
                  {"schedule_id": options[0]["schedule_id"], "date": options[0]["date"]})
    assert (twice.status_code, twice.json()["code"]) == (409, "BOOKING_NOT_CANCELLABLE")

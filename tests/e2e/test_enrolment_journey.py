"""A new self-paying family enrols, verifies by SMS, pays, and becomes AKTIF (CONTRACT.md §4)."""

from __future__ import annotations

import hashlib
import hmac
import json

import grpc
import httpx
import pytest

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from services.devstack.launch import Stack
from services.kit.clock import jakarta_now
from tests.factories import latest_code

pytestmark = pytest.mark.e2e
PHONE = "081298765432"
FAMILY = {
    "kk_number": "3171010101260099", "address": "Jl. Cikini Raya No. 99, Jakarta Pusat", "phone": PHONE,
    "email": "keluarga.baru@example.id", "class": 3, "fktp_code": "0114U001",
    "members": [
        {"nik": "3171011004880001", "name": "Hendra Gunawan", "birth_date": "1988-04-10", "sex": "M",
         "relation": "HEAD"},
        {"nik": "3171016512900001", "name": "Rina Marlina", "birth_date": "1990-12-25", "sex": "F",
         "relation": "SPOUSE"},
        {"nik": "3171010309150001", "name": "Bima Gunawan", "birth_date": "2015-09-03", "sex": "M",
         "relation": "CHILD"},
    ],
}


def test_a_new_family_enrols_pays_and_becomes_active(stack: Stack):
    started = httpx.post(f"{stack.gateway}/v1/enrollments", json=FAMILY)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["otp"]["channel"] == "sms" and body["otp"]["destination_masked"] == "+62812****5432"
    code = latest_code(stack.gateway, PHONE)

    wrong = httpx.post(f"{stack.gateway}/v1/enrollments/{body['enrollment_id']}/verify",
                       json={"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "OTP_INVALID" and wrong.json()["attempts_left"] == 4

    done = httpx.post(f"{stack.gateway}/v1/enrollments/{body['enrollment_id']}/verify", json={"code": code})
    assert done.status_code == 201, done.text
    result = done.json()
    assert [p["name"] for p in result["participants"]] == ["HENDRA GUNAWAN", "RINA MARLINA", "BIMA GUNAWAN"]
    assert all(p["status"] == "TIDAK_AKTIF" and p["status_reason"] == "MENUNGGU_PEMBAYARAN"
               for p in result["participants"])
    assert all(len(p["noka"]) == 13 for p in result["participants"])
    payment = result["payment"]
    assert payment["amount"] == 3 * 35_000

    callback = json.dumps({"payment_id": payment["payment_id"], "virtual_account": payment["virtual_account"],
                           "amount": payment["amount"], "provider_ref": "PRV-E2E-1",
                           "paid_at": jakarta_now().isoformat()}).encode()
    signature = hmac.new(b"dev-payment-secret", callback, hashlib.sha256).hexdigest()
    paid = httpx.post(f"{stack.gateway}/v1/payment-callbacks", content=callback, headers={"X-Signature": signature})
    assert paid.status_code == 200

    head = result["participants"][0]["noka"]
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['membership']}") as channel:
        family = membership_pb2_grpc.MembershipServiceStub(channel).GetMembership(
            membership_pb2.GetMembershipRequest(noka=head), timeout=5)
    assert family.all_family_active and len(family.family) == 3

    again = httpx.post(f"{stack.gateway}/v1/enrollments", json={**FAMILY, "kk_number": "3171010101260098"})
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_REGISTERED"


def test_an_existing_participants_nik_cannot_enrol_again(stack: Stack):
    budi = {"nik": "3171011501800001", "name": "Budi Santoso", "birth_date": "1980-01-15", "sex": "M",
            "relation": "HEAD"}
    response = httpx.post(f"{stack.gateway}/v1/enrollments",
                          json={**FAMILY, "kk_number": "3171010101260097", "members": [budi]})
    assert response.status_code == 409 and response.json()["code"] == "ALREADY_REGISTERED"


def test_bad_applications_are_422_with_the_fields(stack: Stack):
    bad = {**FAMILY, "kk_number": "3171010101260096",
           "members": [{**FAMILY["members"][0], "birth_date": "1988-04-11"}]}  # NIK says the 10th
    response = httpx.post(f"{stack.gateway}/v1/enrollments", json=bad)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["errors"][0]["field"] == "members.0.nik"
    newcomer = {"nik": "3171014407920001", "name": "Lina Kurnia", "birth_date": "1992-07-04", "sex": "F",
                "relation": "HEAD"}
    hospital = httpx.post(f"{stack.gateway}/v1/enrollments", json={
        **FAMILY, "kk_number": "3171010101260095", "fktp_code": "0114R001", "members": [newcomer]})
    assert hospital.status_code == 422 and hospital.json()["code"] == "FACILITY_INVALID"

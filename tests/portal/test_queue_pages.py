"""The portal's queue journeys in Chromium (CONTRACT.md §9, demo data §6): facilities nearest first
from the browser's location or a typed town, taking a queue number, "my bookings" with the live
position refreshing by itself, cancelling, and a hospital's referral rule refused in words."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from services.devstack.launch import Stack
from services.kit.clock import jakarta_today
from tests.factories import DEWI, RUDI, activate, bearer
from tests.portal.conftest import LOCATION, Portal
from tests.portal.test_account_pages import log_in

pytestmark = pytest.mark.e2e
PASSWORD = "Antre#Portal2026"
BUDI = {"identifier": "0001234567801", "birth_date": "1980-01-15", "phone": "081234500001",
        "email": "budi.antre.portal@example.id"}
REFERRAL_INT = "0114U0011126Y000001"


def facilities(stack: Stack, **query) -> list[str]:
    reply = httpx.get(f"{stack.gateway}/v1/facilities", params=query)
    assert reply.status_code == 200, reply.text
    return [item["name"] for item in reply.json()["items"]]


def schedule(stack: Stack, facility: str, poli: str, day) -> dict:
    reply = httpx.get(f"{stack.gateway}/v1/facilities/{facility}/schedules",
                      params={"date": day.isoformat(), "poli": poli})
    (item,) = reply.json()["items"]
    return item


def test_facilities_are_listed_nearest_first_from_my_location_or_a_typed_town(portal: Portal, stack: Stack):
    page = portal.page
    portal.open("/")
    log_in(portal, DEWI.noka, DEWI.password or "")
    page.get_by_role("link", name="Faskes").click()
    page.get_by_role("button", name="Gunakan lokasi saya").click()
    expect(page.get_by_role("heading", name="Terdekat dari lokasi Anda")).to_be_visible()
    nearest = facilities(stack, lat=f"{LOCATION['latitude']:.5f}", lon=f"{LOCATION['longitude']:.5f}")
    assert len(nearest) >= 3
    expect(page.locator(".list h3")).to_have_text(nearest)
    expect(page.locator(".list li").first).to_contain_text(re.compile(r"\d+,\d+ km"))
    portal.shot("facilities-near-me")
    portal.accessible("facilities")
    page.get_by_label("Nama fasilitas atau kota").fill("Bandung")
    page.get_by_role("button", name="Cari").click()
    expect(page.get_by_role("heading", name="Terdekat dari Bandung")).to_be_visible()
    expect(page.locator(".list h3").first).to_have_text("Puskesmas Sukajadi")
    page.get_by_label("Nama fasilitas atau kota").fill("Puskesmas")
    page.get_by_role("button", name="Cari").click()
    expect(page.locator(".list h3")).to_have_text(facilities(stack, q="Puskesmas"))
    portal.shot("facilities-by-name")


def test_take_a_queue_number_watch_the_position_move_by_itself_then_cancel(portal: Portal, stack: Stack):
    tomorrow = jakarta_today() + timedelta(days=1)
    sari = schedule(stack, "0114U001", "001", tomorrow)
    rudi = bearer(stack.gateway, RUDI.noka, RUDI.password or "")
    ahead_of_dewi = httpx.post(f"{stack.gateway}/v1/bookings", headers=rudi,
                               json={"schedule_id": sari["schedule_id"], "date": tomorrow.isoformat()})
    assert ahead_of_dewi.status_code == 201, ahead_of_dewi.text

    page = portal.page
    portal.open("/")
    log_in(portal, DEWI.noka, DEWI.password or "")
    page.get_by_role("link", name="Ambil Antrean").click()
    expect(page.get_by_label("Fasilitas kesehatan")).to_have_value("0114U001")  # her own FKTP first
    page.get_by_label("Tanggal periksa").fill(tomorrow.isoformat())
    page.get_by_label(re.compile("dr. Sari")).check()
    portal.shot("take-a-number")
    portal.accessible("take-a-number")
    page.get_by_role("button", name="Ambil nomor antrean").click()
    expect(page.get_by_role("heading", name="Nomor antrean Anda")).to_be_visible()
    dewi = bearer(stack.gateway, DEWI.noka, DEWI.password or "")
    (booking,) = [b for b in httpx.get(f"{stack.gateway}/v1/bookings", headers=dewi).json()["items"]
                  if b["status"] == "BOOKED"]
    expect(page.locator(".big")).to_have_text(booking["queue_number"])
    expect(page.get_by_text(booking["booking_code"])).to_be_visible()
    portal.shot("booked")

    page.get_by_role("link", name="Antrean Saya").click()
    expect(page.get_by_text(booking["booking_code"])).to_be_visible()
    position = page.locator(".position")
    expect(position).to_contain_text("Di depan Anda: 1")
    portal.shot("my-bookings")
    portal.accessible("my-bookings")
    cancelled = httpx.post(f"{stack.gateway}/v1/bookings/{ahead_of_dewi.json()['booking_code']}/cancel",
                           headers=rudi, json={"reason": "berhalangan"})
    assert cancelled.status_code == 200, cancelled.text
    expect(position).to_contain_text("Di depan Anda: 0", timeout=25_000)  # no reload: it refreshes itself

    page.get_by_role("button", name="Batalkan antrean").click()
    page.get_by_label("Alasan pembatalan").select_option(label="Sudah sembuh")
    page.get_by_role("button", name="Ya, batalkan").click()
    expect(page.get_by_role("status")).to_have_text("Antrean dibatalkan.")
    expect(page.get_by_text("Dibatalkan", exact=True)).to_be_visible()
    after = httpx.get(f"{stack.gateway}/v1/bookings/{booking['booking_code']}", headers=dewi).json()
    assert after["status"] == "CANCELLED"
    portal.shot("cancelled")


def test_a_hospital_visit_needs_its_referral_and_the_refusal_is_shown_in_words(portal: Portal, stack: Stack):
    activate(stack.gateway, {**BUDI, "password": PASSWORD})
    tomorrow = jakarta_today() + timedelta(days=1)
    internist = schedule(stack, "0114R001", "INT", tomorrow)
    refused = httpx.post(f"{stack.gateway}/v1/bookings", headers=bearer(stack.gateway, BUDI["identifier"], PASSWORD),
                         json={"schedule_id": internist["schedule_id"], "date": tomorrow.isoformat()}).json()
    assert refused["code"] == "REFERRAL_REQUIRED"

    page = portal.page
    portal.open("/")
    log_in(portal, BUDI["identifier"], PASSWORD)
    page.get_by_role("link", name="Ambil Antrean").click()
    page.get_by_label("Fasilitas kesehatan").select_option(label="RSUD Harapan Sehat")
    expect(page.get_by_label("Nomor rujukan")).to_be_visible()
    page.get_by_label("Tanggal periksa").fill(tomorrow.isoformat())
    page.get_by_label(re.compile("Andi Wijaya")).check()
    page.get_by_role("button", name="Ambil nomor antrean").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(refused["title"])
    assert "422" not in (alert.text_content() or "")
    expect(page.get_by_label("Nomor rujukan")).to_have_attribute("aria-invalid", "true")
    portal.shot("referral-refused")
    page.get_by_label("Nomor rujukan").fill(REFERRAL_INT)
    page.get_by_role("button", name="Ambil nomor antrean").click()
    expect(page.get_by_role("heading", name="Nomor antrean Anda")).to_be_visible()
    expect(page.get_by_text("Penyakit Dalam — dr. Andi Wijaya, Sp.PD", exact=True)).to_be_visible()
    portal.shot("hospital-booked")

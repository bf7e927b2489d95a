"""The §7 features in the portal, offered because this gateway has their routes (the page asks the
gateway which it has): sending the activation code by email instead, moving a booking to another
session, and the waitlist of a full session."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from services.devstack.launch import Stack
from services.kit.clock import jakarta_today
from tests.factories import DEWI, RUDI, activate, bearer, latest_code
from tests.portal.conftest import Portal
from tests.portal.test_account_pages import log_in
from tests.portal.test_queue_pages import schedule

pytestmark = pytest.mark.e2e
PASSWORD = "Nanti#Portal2026"
ANDI = {"identifier": "3171012107100003", "birth_date": "2010-07-21", "phone": "081234500003",
        "email": "andi.portal@example.id"}
BUDI = {"identifier": "0001234567801", "birth_date": "1980-01-15", "phone": "081234500001",
        "email": "budi.nanti@example.id"}
REFERRAL_INT = "0114U0011126Y000001"


def test_the_activation_code_can_be_sent_by_email_instead(portal: Portal, stack: Stack):
    page = portal.page
    portal.open("/#/aktivasi")
    page.get_by_label("NIK (16 angka)").fill(ANDI["identifier"])
    page.get_by_label("Tanggal lahir").fill(ANDI["birth_date"])
    page.get_by_label("Nomor HP").fill(ANDI["phone"])
    page.get_by_label("Email").fill(ANDI["email"])
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Kirim kode SMS").click()
    page.get_by_role("button", name="Kirim lewat email saja").click()
    expect(page.get_by_text("Kode yang sama dikirim ke email Anda.")).to_be_visible()
    code = latest_code(stack.gateway, ANDI["email"])
    assert code == latest_code(stack.gateway, "+6281234500003")  # the same code, by email
    portal.shot("code-by-email")
    page.get_by_label("Kode SMS").fill(code)
    page.get_by_role("button", name="Aktifkan", exact=True).click()
    expect(page.get_by_text("Akun Anda sudah aktif")).to_be_visible()


@pytest.fixture(scope="module")
def budi(stack: Stack) -> dict[str, str]:
    """Budi activates his account (demo data: no account yet)."""
    activate(stack.gateway, {**BUDI, "password": PASSWORD})
    return bearer(stack.gateway, BUDI["identifier"], PASSWORD)


def test_a_booking_moves_to_another_session_from_my_bookings(portal: Portal, stack: Stack, budi):
    """Budi's internist visit on his referral moves a day later; the referral carries over."""
    tomorrow, later = jakarta_today() + timedelta(days=1), jakarta_today() + timedelta(days=2)
    old = httpx.post(f"{stack.gateway}/v1/bookings", headers=budi,
                     json={"schedule_id": schedule(stack, "0114R001", "INT", tomorrow)["schedule_id"],
                           "date": tomorrow.isoformat(), "referral_number": REFERRAL_INT})
    assert old.status_code == 201, old.text
    page = portal.page
    portal.open("/")
    log_in(portal, BUDI["identifier"], PASSWORD)
    page.get_by_role("link", name="Antrean Saya").click()
    page.get_by_role("link", name="Ubah jadwal").click()
    expect(page.get_by_role("heading", name="Ubah jadwal antrean")).to_be_visible()
    expect(page.get_by_label("Fasilitas kesehatan")).to_have_value("0114R001")
    page.get_by_label("Tanggal periksa").fill(later.isoformat())
    page.get_by_label(re.compile("Andi Wijaya")).check()
    page.get_by_role("button", name="Pindah ke jadwal ini").click()
    expect(page.get_by_role("heading", name="Nomor antrean Anda")).to_be_visible()
    portal.shot("moved")
    before = httpx.get(f"{stack.gateway}/v1/bookings/{old.json()['booking_code']}", headers=budi).json()
    assert before["status"] == "CANCELLED" and before.get("cancel_reason") == "RESCHEDULED"
    expect(page.get_by_text(before["rescheduled_to"])).to_be_visible()


def test_a_full_session_offers_its_waitlist_and_my_bookings_shows_my_place(portal: Portal, stack: Stack, budi):
    tomorrow = jakarta_today() + timedelta(days=1)
    dentist = schedule(stack, "0114U001", "002", tomorrow)  # drg. Bayu: 2 seats
    for who in (bearer(stack.gateway, RUDI.noka, RUDI.password or ""), budi):
        taken = httpx.post(f"{stack.gateway}/v1/bookings", headers=who,
                           json={"schedule_id": dentist["schedule_id"], "date": tomorrow.isoformat()})
        assert taken.status_code == 201, taken.text
    page = portal.page
    portal.open("/")
    log_in(portal, DEWI.noka, DEWI.password or "")
    page.get_by_role("link", name="Ambil Antrean").click()
    page.get_by_label("Tanggal periksa").fill(tomorrow.isoformat())
    page.get_by_label(re.compile("drg. Bayu")).check()
    expect(page.get_by_text(re.compile("drg. Bayu.*penuh", re.S))).to_be_visible()
    expect(page.get_by_role("button", name="Ambil nomor antrean")).to_be_hidden()
    page.get_by_role("button", name="Masuk daftar tunggu").click()
    expect(page.get_by_role("status")).to_contain_text("urutan ke-1")
    portal.shot("waitlisted")
    page.get_by_role("link", name="Antrean Saya").click()
    expect(page.get_by_role("heading", name="Daftar tunggu")).to_be_visible()
    expect(page.get_by_text("Menunggu · Urutan ke-1")).to_be_visible()
    portal.shot("my-waitlist")
    portal.accessible("my-waitlist")
    page.get_by_role("button", name="Keluar dari daftar tunggu").click()
    expect(page.get_by_role("heading", name="Daftar tunggu")).to_have_count(0)
    entries = httpx.get(f"{stack.gateway}/v1/waitlist", headers=bearer(stack.gateway, DEWI.noka, DEWI.password or ""))
    assert [e["status"] for e in entries.json()["items"] if e["status"] == "WAITING"] == []

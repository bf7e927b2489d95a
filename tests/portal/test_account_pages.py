"""The portal's account journeys in Chromium (CONTRACT.md §9, demo data §6): the log-in page's budget,
a refused log-in in words, the language switch, activating an account with the SMS code, home with
the family's cover, the card and its QR — offline too, once visited —, bills and a payment's
virtual account, and "Simpan data username"."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from services.devstack.launch import Stack
from tests.factories import DEWI, RUDI, activate, bearer, latest_code
from tests.portal.conftest import Portal

pytestmark = pytest.mark.e2e
PASSWORD = "Portal#Sehat2026"
BUDI = {"identifier": "3171011501800001", "birth_date": "1980-01-15", "phone": "081234500001",
        "email": "budi.portal@example.id"}
SITI = {"identifier": "0002345678904", "birth_date": "1985-06-05", "phone": "081234500004",
        "email": "siti.portal@example.id"}
#: Chrome DevTools' classic "Slow 3G": 400 ms round trip, 400 kbit/s down and up.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000}


def log_in(portal: Portal, identifier: str, password: str) -> None:
    page = portal.page
    page.get_by_label("NIK").fill(identifier)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def problem(stack: Stack, path: str, body: dict, language: str = "id") -> dict:
    """The problem the API gives for ``body`` (what the page must show in words)."""
    reply = httpx.post(f"{stack.gateway}{path}", json=body, headers={"Accept-Language": language})
    assert reply.status_code >= 400, reply.text
    return reply.json()


def rupiah_digits(amount: int) -> str:
    """How the page writes an amount's digits (id-ID groups thousands with dots)."""
    return f"{amount:,}".replace(",", ".")


def test_the_log_in_page_loads_within_its_budget_on_slow_3g(portal: Portal, screenshots):
    """At most 150 KB on the wire for the first load, usable within 2 s on a throttled Slow 3G line."""
    page = portal.page
    cdp = portal.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    transferred: dict[str, float] = {}
    cdp.on("Network.loadingFinished",
           lambda event: transferred.__setitem__(event["requestId"], event["encodedDataLength"]))
    portal.open("/")
    expect(page.get_by_role("button", name="Masuk")).to_be_enabled()
    page.get_by_label("NIK").fill("0004567890006")  # the form takes input
    page.wait_for_load_state("networkidle")
    # from the start of the navigation to the first view drawn with its handlers (the app's mark)
    interactive_s = page.evaluate("performance.getEntriesByName('jkn-interactive')[0].startTime") / 1000
    total = sum(transferred.values())
    (screenshots / "first-load.json").write_text(json.dumps(
        {"transferred_bytes": total, "requests": len(transferred), "interactive_s": round(interactive_s, 2),
         "profile": SLOW_3G}))
    assert 0 < total <= 150 * 1024
    assert interactive_s < 2.0
    portal.shot("log-in")
    portal.accessible("log-in")


def test_a_refused_log_in_is_shown_in_words_and_the_lockout_plainly(portal: Portal, stack: Stack):
    page = portal.page
    portal.open("/")
    unknown = "0009999999991"  # nobody's NOKA: failures count for it all the same
    wrong = problem(stack, "/v1/sessions", {"identifier": "0009999999990", "password": "Salah#Sekali1"})
    log_in(portal, unknown, "Salah#Sekali1")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(wrong["title"])
    assert "401" not in (alert.text_content() or "")
    expect(page.get_by_label("NIK")).to_have_attribute("aria-describedby", re.compile(r"\S"))
    for _ in range(4):
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_role("button", name="Masuk")).to_be_enabled()
    # the fifth failure locked the identifier: the sixth try is refused with 423 and a wait
    page.get_by_label("Kata sandi").fill("Salah#Sekali1")
    page.get_by_role("button", name="Masuk").click()
    expect(alert).to_contain_text("Akun dikunci sementara")
    expect(alert).to_contain_text(re.compile(r"Coba lagi dalam \d+ detik"))
    portal.shot("locked")
    portal.accessible("locked")


def test_the_language_switches_to_english_and_back(portal: Portal):
    page = portal.page
    portal.open("/")
    expect(page.get_by_label("Kata sandi")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_label("NIK")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("NIK").fill("0009999999992")
    page.get_by_label("Password").fill("Wrong#Password1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid identifier or password")  # the API's English title
    portal.shot("english")
    page.get_by_role("button", name="Bahasa Indonesia").click()
    expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "id")


def test_activate_an_account_with_the_sms_code_then_home_shows_the_family_covered(portal: Portal, stack: Stack):
    page = portal.page
    portal.open("/")
    page.get_by_role("link", name="Aktifkan akun").click()
    page.get_by_label("NIK (16 angka)").fill(BUDI["identifier"])
    page.get_by_label("Tanggal lahir").fill(BUDI["birth_date"])
    page.get_by_label("Nomor HP").fill(BUDI["phone"])
    page.get_by_label("Email").fill(BUDI["email"])
    page.get_by_label("Kata sandi").fill("lemah")
    page.get_by_role("button", name="Kirim kode SMS").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a weak password, refused before any code is sent
    expect(page.get_by_label("Kata sandi")).to_have_attribute("aria-invalid", "true")
    portal.shot("activation-refused")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Kirim kode SMS").click()
    expect(page.get_by_text("+62812****0001")).to_be_visible()
    expect(page.get_by_role("button", name="Kirim ulang kode")).to_be_disabled()  # not before 60 s
    portal.shot("activation-code")
    portal.accessible("activation-code")
    code = latest_code(stack.gateway, "+6281234500001")
    page.get_by_label("Kode SMS").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Aktifkan", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Sisa percobaan: 4")
    page.get_by_label("Kode SMS").fill(code)
    page.get_by_role("button", name="Aktifkan", exact=True).click()
    expect(page.get_by_text("Akun Anda sudah aktif")).to_be_visible()
    expect(page.get_by_label("NIK")).to_have_value(BUDI["identifier"])
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("heading", name="Halo, BUDI SANTOSO")).to_be_visible()
    expect(page.get_by_text("Semua Keluarga Anda Terlindungi")).to_be_visible()
    for name in ("SRI RAHAYU", "ANDI SANTOSO"):
        expect(page.get_by_text(name)).to_be_visible()
    expect(page.get_by_text("Tidak Aktif")).to_have_count(0)
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Kartu")).to_be_visible()
    expect(nav.get_by_role("link", name="Antrean Saya")).to_be_visible()
    portal.shot("home")
    portal.accessible("home")


def test_an_inactive_member_is_marked_with_the_reason_and_pays_by_virtual_account(portal: Portal, stack: Stack):
    activate(stack.gateway, {**SITI, "password": PASSWORD})
    headers = bearer(stack.gateway, SITI["identifier"], PASSWORD)
    bills = httpx.get(f"{stack.gateway}/v1/me/bills", headers=headers).json()
    page = portal.page
    portal.open("/")
    log_in(portal, SITI["identifier"], PASSWORD)
    expect(page.get_by_text("Tidak Aktif")).to_contain_text("Tunggakan iuran")
    expect(page.get_by_text("Semua Keluarga Anda Terlindungi")).to_have_count(0)
    portal.shot("home-inactive")
    page.get_by_role("link", name="Iuran").click()
    expect(page.locator(".big")).to_contain_text(rupiah_digits(bills["arrears_total"]))
    unpaid = [b for b in bills["bills"] if b["status"] == "UNPAID"]
    assert len(unpaid) >= 3  # three months in arrears (§6), and this month's bill when it is out
    expect(page.get_by_role("checkbox")).to_have_count(len(unpaid))
    portal.accessible("bills")
    page.get_by_role("button", name="Bayar semua tagihan").click()
    va = page.locator(".va")
    expect(va).to_have_text(re.compile(r"^\d{8,}$"))
    payment = httpx.post(f"{stack.gateway}/v1/me/payments", json={"periods": []}, headers=headers).json()
    assert va.text_content() == payment["virtual_account"]  # the same open payment, asked again
    assert payment["amount"] == sum(b["amount"] for b in unpaid)  # every unpaid month, this month's too
    expect(page.get_by_role("definition").filter(has_text=rupiah_digits(payment["amount"]))).to_have_count(1)
    portal.shot("payment")


def test_the_card_shows_the_noka_and_its_qr_and_opens_offline_once_visited(portal: Portal, stack: Stack):
    dewi = bearer(stack.gateway, DEWI.noka, DEWI.password or "")
    card = httpx.get(f"{stack.gateway}/v1/me/card", headers=dewi).json()
    page = portal.page
    portal.open("/")
    expect(page.locator("link[rel=manifest]")).to_have_attribute("href", "/manifest.webmanifest")
    log_in(portal, DEWI.noka, DEWI.password or "")
    page.get_by_role("link", name="Kartu").click()
    expect(page.get_by_text(DEWI.noka, exact=True)).to_be_visible()
    expect(page.get_by_text(card["name"]).first).to_be_visible()
    expect(page.get_by_text("Kelas 3")).to_be_visible()
    expect(page.get_by_text("Klinik Pratama Sehat Menteng")).to_be_visible()
    qr = page.get_by_role("img", name="Kode QR kartu JKN")
    expect(qr).to_be_visible()
    modules = page.evaluate("""(payload) => { const q = qrcode(0, 'M'); q.addData(payload); q.make();
                                              return q.getModuleCount(); }""", card["qr_payload"])
    assert qr.get_attribute("viewBox") == f"0 0 {modules + 4} {modules + 4}"  # drawn from the card's own payload
    portal.shot("card")
    portal.accessible("card")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    portal.set_offline(True)
    page.reload()
    expect(page.get_by_text(DEWI.noka, exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("offline")
    expect(page.get_by_role("img", name="Kode QR kartu JKN")).to_be_visible()
    portal.shot("card-offline")
    other_tab = portal.context.new_page()  # a new tab has no session of its own: the kept card all the same
    other_tab.goto(portal.base + "/#/kartu")
    expect(other_tab.get_by_text(DEWI.noka, exact=True)).to_be_visible()
    other_tab.close()
    portal.set_offline(False)
    # logging out forgets the kept card
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    assert page.evaluate("localStorage.getItem('jkn.card')") is None


def test_simpan_data_username_prefills_the_form_and_switches_accounts_but_never_keeps_a_password(portal_for):
    portal = portal_for()
    page = portal.page
    portal.open("/")
    switch = page.get_by_role("switch", name="Simpan data username")
    expect(switch).not_to_be_checked()
    for person in (DEWI, RUDI):
        if not switch.is_checked():
            switch.check()
        log_in(portal, person.noka, person.password or "")
        expect(page.get_by_role("heading", name=f"Halo, {person.name}")).to_be_visible()
        page.get_by_role("button", name="Keluar").click()
        expect(page.get_by_role("button", name="Masuk")).to_be_visible()
    expect(page.get_by_label("NIK")).to_have_value(RUDI.noka)  # the last one used
    expect(page.get_by_label("Kata sandi")).to_have_value("")
    portal.shot("saved-accounts")
    portal.accessible("saved-accounts")
    page.get_by_role("button", name=f"Pakai akun {DEWI.name}").click()
    expect(page.get_by_label("NIK")).to_have_value(DEWI.noka)
    kept = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert DEWI.password and DEWI.password not in kept and (RUDI.password or "") not in kept
    # the same phone, reopened: still pre-filled; switched off, it forgets
    page.reload()
    expect(page.get_by_label("NIK")).to_have_value(RUDI.noka)
    switch.uncheck()
    log_in(portal, DEWI.noka, DEWI.password)
    page.get_by_role("button", name="Keluar").click()
    expect(page.get_by_label("NIK")).to_have_value("")
    expect(page.get_by_role("button", name=f"Pakai akun {DEWI.name}")).to_have_count(0)


def test_the_api_docs_render_from_the_gateways_own_files(portal: Portal):
    """/docs draws Swagger UI with no request leaving this origin and no script error (CONTRACT.md §1)."""
    page = portal.page
    origins: set[str] = set()
    page.on("request", lambda request: origins.add(request.url.split("/")[2]))
    portal.open("/docs")
    expect(page.get_by_role("heading", name=re.compile("JKN Mobile API"))).to_be_visible()
    expect(page.get_by_text("/v1/sessions", exact=True).first).to_be_visible()
    assert origins == {portal.base.split("/")[2]}
    portal.shot("docs")

"""The bridge as `make run` starts it (the `stack` fixture): a SIMRS with an unmodified BPJS client
books at the desk, and the participant sees that booking in the app's ``GET /v1/bookings``."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from bpjs import Bridging

from services.kit.clock import jakarta_today
from tests import factories

pytestmark = pytest.mark.e2e
DEWI = factories.DEWI
CLINIC = "0114U001"


def client(stack, service: str = "antrean") -> Bridging:
    prefix = "antreanrs" if service == "antrean" else "vclaim-rest"
    return Bridging({"consid": CLINIC, "secret": f"dev-secret-{CLINIC}", "user_key": "simrs",
                     "host": f"{stack.bridge}/{prefix}"}, service)


def wait_ready(stack, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{stack.bridge}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the bridge was not ready:\n{stack.log()[-3000:]}")


def test_a_desk_booking_is_in_the_participants_app_bookings(stack):
    wait_ready(stack)
    tomorrow = (jakarta_today() + timedelta(days=1)).isoformat()
    answer = client(stack).request("antrean/add", "POST", {
        "kodebooking": "STACK-DEWI-1", "jenispasien": "JKN", "nomorkartu": DEWI.noka, "nik": DEWI.nik,
        "nohp": "", "kodepoli": "001", "pasienbaru": 1, "norm": "", "tanggalperiksa": tomorrow,
        "kodedokter": "D0114U01", "jampraktek": "08:00-14:00", "jeniskunjungan": 1, "nomorreferensi": ""})
    assert answer["metaData"]["code"] == 200, answer
    assert answer["response"]["nomorantrean"] == "001-1"
    auth = factories.bearer(stack.gateway, DEWI.noka, DEWI.password)
    items = httpx.get(f"{stack.gateway}/v1/bookings", headers=auth).json()["items"]
    assert [(i["booking_code"], i["status"], i["date"]) for i in items] == [("STACK-DEWI-1", "BOOKED", tomorrow)]
    peserta = client(stack, "vclaim").request(f"Peserta/nokartu/{DEWI.noka}/tglSEP/{tomorrow}")
    assert peserta["metaData"]["code"] == "200" and peserta["response"]["peserta"]["nama"] == DEWI.name
    logged = "route=/vclaim-rest/Peserta/nokartu/{noka}/tglSEP/{tanggal}"  # logged, as a template
    assert stack.wait_for_output(logged, timeout_s=10)
    bridge_log = (stack.data_dir / "logs" / "bridge.log").read_text()
    assert DEWI.nik not in bridge_log and DEWI.noka not in bridge_log

"""VClaim over the bridge, and what every request must carry (CONTRACT.md §8): the BPJS headers,
BPJS's codes for refusals and failures, and no personal data in the bridge's logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time

import httpx
import pytest

from services.bridge.app import create_app
from services.bridge.settings import BridgeSettings
from services.devstack.infra import free_port
from tests import factories
from tests.bridge.conftest import BUDI_INT, CLINIC, HOSPITAL, code_of, serving

BUDI, SITI = factories.BUDI, factories.SITI
TODAY = time.strftime("%Y-%m-%d")


def headers(facility: str = HOSPITAL, *, timestamp: int | None = None, secret: str | None = None,
            user_key: str | None = "k") -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new((secret or f"dev-secret-{facility}").encode(), f"{facility}&{stamp}".encode(), hashlib.sha256)
    sent = {"X-cons-id": facility, "X-timestamp": stamp, "X-signature": base64.b64encode(digest.digest()).decode()}
    return sent | ({"user_key": user_key} if user_key is not None else {})


async def test_participant_by_card_number_or_nik_on_a_service_date(world):
    by_noka = await world.get(f"Peserta/nokartu/{BUDI.noka}/tglSEP/{TODAY}", service="vclaim")
    by_nik = await world.get(f"Peserta/nik/{BUDI.nik}/tglSEP/{TODAY}", service="vclaim")
    assert by_noka["metaData"] == {"code": "200", "message": "OK"}
    assert by_noka["response"] == by_nik["response"] == {"peserta": {
        "noKartu": BUDI.noka, "nik": BUDI.nik, "nama": BUDI.name, "sex": "L", "tglLahir": BUDI.birth_date,
        "statusPeserta": {"kode": "0", "keterangan": "AKTIF"}, "hakKelas": {"kode": "2", "keterangan": "KELAS II"},
        "jenisPeserta": {"kode": "PBPU", "keterangan": "PEKERJA BUKAN PENERIMA UPAH"},
        "provUmum": {"kdProvider": "0114U001", "nmProvider": "Klinik Pratama Sehat Menteng"}}}
    siti = await world.get(f"Peserta/nokartu/{SITI.noka}/tglSEP/{TODAY}", service="vclaim")
    assert siti["response"]["peserta"]["statusPeserta"]["keterangan"] == "TUNGGAKAN_IURAN"
    unknown = await world.get(f"Peserta/nokartu/9999999999999/tglSEP/{TODAY}", service="vclaim")
    assert unknown["metaData"]["code"] == "201" and unknown["response"] is None
    short = await world.get(f"Peserta/nik/123/tglSEP/{TODAY}", service="vclaim")
    assert short["metaData"]["code"] == "201"


async def test_a_referral_is_read_by_the_hospital_it_was_issued_to_only(world):
    answer = await world.get(f"Rujukan/{BUDI_INT}", service="vclaim")
    assert code_of(answer) == 200
    referral = answer["response"]["rujukan"]
    assert referral["noKunjungan"] == BUDI_INT
    assert referral["poliRujukan"] == {"kode": "INT", "nama": "Penyakit Dalam"}
    assert referral["provPerujuk"] == {"kode": "0114U001", "nama": "Klinik Pratama Sehat Menteng"}
    assert referral["peserta"]["noKartu"] == BUDI.noka
    for facility in (CLINIC, "0114U002"):
        other = await world.get(f"Rujukan/{BUDI_INT}", facility=facility, service="vclaim")
        assert other["metaData"]["code"] == "201" and other["response"] is None


@pytest.mark.parametrize("case", ["wrong secret", "stale timestamp", "future timestamp", "no user_key",
                                  "unknown facility", "no headers"])
async def test_a_bad_signature_or_timestamp_is_401_with_a_metadata_body(world, case):
    sent = {"wrong secret": headers(secret="not-the-secret"), "stale timestamp": headers(
        timestamp=int(time.time()) - 301), "future timestamp": headers(timestamp=int(time.time()) + 330),
        "no user_key": headers(user_key=None), "unknown facility": headers("", secret="dev-secret-"),
        "no headers": {}}[case]
    for path in ("/antreanrs/ref/poli", f"/vclaim-rest/Peserta/nokartu/{BUDI.noka}/tglSEP/{TODAY}"):
        async with httpx.AsyncClient(base_url=world.url) as client:
            reply = await client.get(path, headers=sent)
        assert reply.status_code == 401
        body = reply.json()
        meta = body.get("metadata") or body.get("metaData")
        assert int(meta["code"]) == 401 and body["response"] is None
        assert "Traceback" not in reply.text


async def test_the_unmodified_client_sees_401_for_a_wrong_secret(world):
    answer = await world.get("ref/poli", secret="not-the-secret")
    assert code_of(answer) == 401 and answer["response"] is None


async def test_unknown_paths_are_404_and_garbage_is_201_never_a_500(world):
    async with httpx.AsyncClient(base_url=world.url) as client:
        reply = await client.get("/antreanrs/nothing/here", headers=headers())
        garbage = await client.post("/antreanrs/antrean/updatewaktu", headers=headers(), content=b"\xff{not json")
        huge = await client.post("/antreanrs/antrean/batal", headers=headers(), content=b"{" + b" " * 70_000 + b"}")
    assert reply.status_code == 404 and reply.json()["metadata"]["code"] == 404
    assert garbage.status_code == 200 and garbage.json()["metadata"]["code"] == 201
    assert huge.status_code == 413 and huge.json()["metadata"]["code"] == 413
    assert reply.headers["x-content-type-options"] == "nosniff"


async def test_a_backing_service_down_is_503_with_retry_after():
    port = free_port()
    app = create_app(BridgeSettings(env="test", port=port, queue_addr=f"127.0.0.1:{free_port()}",
                                    membership_addr=f"127.0.0.1:{free_port()}", rpc_timeout_s=0.5))
    async with serving(app, port), httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{port}/antreanrs/ref/poli", headers=headers())
        ready = await client.get(f"http://127.0.0.1:{port}/readyz")
    assert reply.status_code == 503 and reply.json()["metadata"]["code"] == 503
    assert int(reply.headers["retry-after"]) > 0
    assert ready.status_code == 503


async def test_health_readiness_and_metrics(world):
    async with httpx.AsyncClient(base_url=world.url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json()["status"] == "ready"
        await world.get("ref/dokter")
        metrics = (await client.get("/metrics")).text
    assert 'route="/antreanrs/ref/dokter"' in metrics
    assert 'bridge_answers_total{code="200",route="/antreanrs/ref/dokter"}' in metrics


async def test_logs_name_the_facility_and_the_reason_never_a_nik_or_noka(world, caplog):
    caplog.set_level(logging.INFO, logger="jkn")
    await world.get(f"Peserta/nik/{BUDI.nik}/tglSEP/{TODAY}", service="vclaim")
    await world.get("Peserta/nokartu/9999999999999/tglSEP/2026-13-45", service="vclaim")
    refused = [r for r in caplog.records if r.getMessage() == "bridge_refused"]
    assert refused and refused[-1].__dict__["facility"] == HOSPITAL
    assert refused[-1].__dict__["reason"] == "VALIDATION_ERROR"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for personal in (BUDI.nik, "9999999999999"):
        assert personal not in logged

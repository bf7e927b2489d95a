"""Antrean RS over the bridge (CONTRACT.md §8), as a SIMRS drives it with an unmodified BPJS client:
every answer decrypted by the client itself."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, time, timedelta

import grpc
import pytest

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.errors import decode_rpc_error
from services.kit.partner_auth import signed_metadata
from tests import factories
from tests.bridge.conftest import ANDI_ANA, BUDI_INT, CLINIC, HOSPITAL, at_visit, code_of, visit_day

BUDI, ANDI, SITI = factories.BUDI, factories.ANDI, factories.SITI
_codes = itertools.count(1)


def new_code() -> str:
    return f"RS{next(_codes):04d}BRIDGE"


def desk_booking(person: factories.Person, *, poli: str = "INT", doctor: str = "D0114R01", referral: str = BUDI_INT,
                 day=None, code: str | None = None, **fields) -> dict:
    return {"kodebooking": code or new_code(), "jenispasien": "JKN", "nomorkartu": person.noka, "nik": person.nik,
            "nohp": "", "kodepoli": poli, "namapoli": "", "pasienbaru": 0, "norm": "RM-001",
            "tanggalperiksa": (day or visit_day()).isoformat(), "kodedokter": doctor, "namadokter": "",
            "jampraktek": "", "jeniskunjungan": 1, "nomorreferensi": referral, "nomorantrean": "A-1",
            "angkaantrean": 1, "estimasidilayani": 0, "sisakuotajkn": 0, "kuotajkn": 0, "sisakuotanonjkn": 0,
            "kuotanonjkn": 0, "keterangan": "", **fields}


async def list_bookings(world, day, facility: str = HOSPITAL) -> list[queue_pb2.Booking]:
    reply = await world.partner.ListBookings(partner_pb2.PartnerQueueServiceListBookingsRequest(
        date=day.isoformat()), metadata=signed_metadata(f"dev-secret-{facility}", facility))
    return list(reply.bookings)


async def test_references_list_the_hospitals_polis_and_doctors(world):
    polis, doctors = await world.get("ref/poli"), await world.get("ref/dokter")
    assert code_of(polis) == code_of(doctors) == 200
    assert {p["kdpoli"]: p["nmpoli"] for p in polis["response"]} == {"ANA": "Anak", "INT": "Penyakit Dalam",
                                                                     "MAT": "Mata"}
    assert {"kodedokter": "D0114R01", "namadokter": "dr. Andi Wijaya, Sp.PD"} in doctors["response"]
    assert all(d["kodedokter"].startswith("D0114R") for d in doctors["response"])  # its own doctors only


async def test_doctor_schedule_of_a_date_carries_the_jkn_quota_as_capacity(world):
    day = visit_day()
    answer = await world.get(f"jadwaldokter/kodepoli/INT/tanggal/{day.isoformat()}")
    assert code_of(answer) == 200
    assert answer["response"] == [{
        "kodedokter": "D0114R01", "namadokter": "dr. Andi Wijaya, Sp.PD", "kodepoli": "INT",
        "namapoli": "Penyakit Dalam", "kodesubspesialis": "INT", "namasubspesialis": "Penyakit Dalam",
        "hari": day.isoweekday(), "namahari": ["SENIN", "SELASA", "RABU", "KAMIS", "JUMAT", "SABTU",
                                               "MINGGU"][day.isoweekday() - 1],
        "jadwal": "08:00-12:00", "kapasitaspasien": 30, "libur": 0}]
    bad = await world.get("jadwaldokter/kodepoli/INT/tanggal/15-01-2026")
    assert code_of(bad) == 201 and "yyyy-mm-dd" in bad["metaData"]["message"]


async def test_the_desk_books_a_participant_for_the_day_itself_and_it_is_their_booking(world):
    """A hospital is booked from tomorrow on in the app; the desk may book for the day itself."""
    day = visit_day()
    app = await _refusal(factories.book(world.queue, noka=BUDI.noka, facility=HOSPITAL, poli="INT", day=day,
                                        referral_number=BUDI_INT))
    assert app == "BOOKING_WINDOW"
    code = new_code()
    answer = await world.post("antrean/add", desk_booking(BUDI, code=code.lower()))
    assert code_of(answer) == 200, answer
    booked = answer["response"]
    assert booked | {"estimasidilayani": 0} == {
        "kodebooking": code, "nomorantrean": "INT-1", "angkaantrean": 1, "norm": "RM-001",
        "namapoli": "Penyakit Dalam", "namadokter": "dr. Andi Wijaya, Sp.PD", "estimasidilayani": 0,
        "sisakuotajkn": 29, "kuotajkn": 30, "sisakuotanonjkn": 10, "kuotanonjkn": 10,
        "keterangan": booked["keterangan"]}
    assert [b.booking_code for b in await list_bookings(world, day)] == [code]
    mine = await world.queue.ListBookings(queue_pb2.ListBookingsRequest(caller=factories.caller(BUDI.noka)))
    assert [(b.booking_code, b.status) for b in mine.bookings] == [(code, queue_pb2.BOOKING_STATUS_BOOKED)]
    again = await world.post("antrean/add", desk_booking(BUDI, code=code))
    assert code_of(again) == 208
    assert len(await list_bookings(world, day)) == 1


async def test_desk_bookings_keep_every_other_booking_rule(world):
    day = visit_day()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI))) == 200
    duplicate = await world.post("antrean/add", desk_booking(BUDI))
    assert code_of(duplicate) == 201 and "antrean aktif" in duplicate["metaData"]["message"]
    inactive = await world.post("antrean/add", desk_booking(SITI, referral=""))
    assert code_of(inactive) == 201 and "tidak aktif" in inactive["metaData"]["message"]
    no_referral = await world.post("antrean/add", desk_booking(ANDI, poli="ANA", doctor="D0114R03", referral=""))
    assert code_of(no_referral) == 201 and "rujukan" in no_referral["metaData"]["message"].lower()
    wrong_poli = await world.post("antrean/add", desk_booking(ANDI, referral=ANDI_ANA))
    assert code_of(wrong_poli) == 201
    by_nik = await world.post("antrean/add", desk_booking(ANDI, poli="ANA", doctor="D0114R03", referral=ANDI_ANA,
                                                        nomorkartu="", day=day + timedelta(days=1)))
    assert code_of(by_nik) == 200, by_nik
    unknown_kind = await world.post("antrean/add", desk_booking(ANDI, jenispasien="UMUM"))
    assert code_of(unknown_kind) == 201 and "jenispasien" in unknown_kind["metaData"]["message"]
    await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="ANA", doctor_code="D0114R03", doctor_name="dr. Maya Putri, Sp.A", date=day.isoformat(),
        start="13:00", end="16:00", quota_jkn=0, quota_non_jkn=5), metadata=signed_metadata(
        f"dev-secret-{HOSPITAL}", HOSPITAL))
    full = await world.post("antrean/add", desk_booking(ANDI, poli="ANA", doctor="D0114R03", referral=ANDI_ANA))
    assert code_of(full) == 201 and full["metaData"]["message"] == "Kuota JKN penuh"
    assert [b.noka for b in await list_bookings(world, day)] == [BUDI.noka]


async def test_task_times_check_in_once_and_a_repeat_is_208(world):
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code))) == 200
    first = {"kodebooking": code, "taskid": 1, "waktu": at_visit(9, 0)}
    assert code_of(await world.post("antrean/updatewaktu", first)) == 200
    assert code_of(await world.post("antrean/updatewaktu", first)) == 208
    assert code_of(await world.post("antrean/updatewaktu", {**first, "waktu": at_visit(9, 1)})) == 208
    assert code_of(await world.post("antrean/updatewaktu", {"kodebooking": code, "taskid": "2",
                                                            "waktu": str(at_visit(9, 5))})) == 200
    skipped = await world.post("antrean/updatewaktu", {"kodebooking": code, "taskid": 5, "waktu": at_visit(9, 6)})
    assert code_of(skipped) == 201
    tasks = await world.post("antrean/getlisttask", {"kodebooking": code})
    assert code_of(tasks) == 200
    assert [(t["kodebooking"], t["taskid"], t["taskname"]) for t in tasks["response"]] == [
        (code, 1, "mulai waktu tunggu admisi"), (code, 2, "akhir waktu tunggu admisi/mulai waktu layan admisi")]
    assert tasks["response"][0]["wakturs"] == f"{visit_day():%d-%m-%Y} 09:00:00 WIB"  # the hospital's time
    # ... and when the platform received it: queue's clock runs at 10:00 of the visit day here
    received = datetime.strptime(tasks["response"][0]["waktu"], "%d-%m-%Y %H:%M:%S WIB")
    assert received.date() == visit_day() and time(9, 59) <= received.time() <= time(10, 30), received
    [booking] = await list_bookings(world, visit_day())
    assert booking.status == queue_pb2.BOOKING_STATUS_CHECKED_IN
    assert booking.checked_in_at.ToMilliseconds() == at_visit(9, 0) - 1


async def test_a_poli_patient_without_admission_starts_at_task_3(world):
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code))) == 200
    assert code_of(await world.post("antrean/updatewaktu", {"kodebooking": code, "taskid": 3,
                                                            "waktu": at_visit(9, 0)})) == 200
    assert code_of(await world.post("antrean/updatewaktu", {"kodebooking": code, "taskid": 4,
                                                            "waktu": at_visit(9, 20)})) == 200
    [booking] = await list_bookings(world, visit_day())
    assert booking.status == queue_pb2.BOOKING_STATUS_SERVING


async def test_another_hospitals_booking_is_refused(world):
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code))) == 200
    for endpoint, payload in (("antrean/updatewaktu", {"kodebooking": code, "taskid": 1, "waktu": at_visit(9)}),
                              ("antrean/batal", {"kodebooking": code, "keterangan": "x"}),
                              ("antrean/getlisttask", {"kodebooking": code})):
        answer = await world.post(endpoint, payload, facility=CLINIC)
        assert code_of(answer) == 201 and answer["response"] is None, endpoint
    other = await world.get(f"antrean/pendaftaran/kodebooking/{code}", facility=CLINIC)
    assert code_of(other) == 201
    [booking] = await list_bookings(world, visit_day())
    assert booking.status == queue_pb2.BOOKING_STATUS_BOOKED and not booking.tasks


async def test_cancellation_frees_the_seat_and_a_repeat_is_208(world):
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code))) == 200
    assert code_of(await world.post("antrean/batal", {"kodebooking": code, "keterangan": "pasien batal"})) == 200
    assert code_of(await world.post("antrean/batal", {"kodebooking": code, "keterangan": "pasien batal"})) == 208
    [row] = (await world.get(f"antrean/pendaftaran/kodebooking/{code}"))["response"]
    assert row["status"] == "Batal"
    again = await world.post("antrean/add", desk_booking(BUDI))
    assert code_of(again) == 200 and again["response"]["sisakuotajkn"] == 29


async def test_registrations_of_a_date_say_where_each_was_made(world):
    day = visit_day() + timedelta(days=1)
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code, day=day))) == 200
    app = await factories.book(world.queue, noka=ANDI.noka, facility=HOSPITAL, poli="ANA", day=day,
                               referral_number=ANDI_ANA, booked_by=factories.caller(BUDI.noka))
    answer = await world.get(f"antrean/pendaftaran/tanggal/{day.isoformat()}")
    assert code_of(answer) == 200
    rows = {r["kodebooking"]: r for r in answer["response"]}
    assert set(rows) == {code, app.booking.booking_code}
    desk = rows[code]
    assert desk | {"estimasidilayani": 0, "createdtime": 0} == {
        "kodebooking": code, "tanggal": day.isoformat(), "kodepoli": "INT", "kodedokter": "D0114R01",
        "jampraktek": "08:00-12:00", "nik": "", "nokapst": BUDI.noka, "nohp": "", "norekammedis": "RM-001",
        "jeniskunjungan": 1, "nomorreferensi": BUDI_INT, "sumberdata": "Bridging Antrean", "ispeserta": 1,
        "noantrean": "INT-1", "estimasidilayani": 0, "createdtime": 0, "status": "Belum dilayani"}
    assert desk["estimasidilayani"] == at_visit(8) + 86_400_000
    assert rows[app.booking.booking_code]["sumberdata"] == "Mobile JKN"
    assert rows[app.booking.booking_code]["jampraktek"] == "13:00-16:00"
    one = await world.get(f"antrean/pendaftaran/kodebooking/{code}")
    assert one["response"] == [desk | {"estimasidilayani": desk["estimasidilayani"],
                                       "createdtime": desk["createdtime"]}]


async def test_waiting_time_dashboard_sums_and_averages_each_step_per_poli(world):
    times = {1: at_visit(9, 0), 2: at_visit(9, 10), 3: at_visit(9, 15), 4: at_visit(9, 45)}
    first, second = new_code(), new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=first))) == 200
    for task, at in times.items():
        assert code_of(await world.post("antrean/updatewaktu", {"kodebooking": first, "taskid": task,
                                                                "waktu": at})) == 200
    assert code_of(await world.post("antrean/add", desk_booking(ANDI, code=second, poli="ANA", doctor="D0114R03",
                                                                referral=ANDI_ANA))) == 200
    by_clock = {}
    for waktu in ("rs", "server"):
        answer = await world.get(f"dashboard/waktutunggu/tanggal/{visit_day().isoformat()}/waktu/{waktu}")
        assert code_of(answer) == 200
        rows = by_clock[waktu] = {r["kodepoli"]: r for r in answer["response"]["list"]}
        assert set(rows) == {"INT", "ANA"}
        assert rows["INT"]["jumlah_antrean"] == 1 and rows["INT"]["kdppk"] == HOSPITAL
        assert rows["ANA"]["waktu_task1"] == 0 and rows["ANA"]["jumlah_antrean"] == 1
    rs, server = by_clock["rs"]["INT"], by_clock["server"]["INT"]
    assert [rs[f"waktu_task{n}"] for n in range(1, 7)] == [600, 300, 1800, 0, 0, 0]
    assert [rs[f"avg_waktu_task{n}"] for n in range(1, 4)] == [600, 300, 1800]
    # the hospital reported a morning's times within a few seconds: our clock saw seconds, not minutes
    assert all(0 <= server[f"waktu_task{n}"] < 60 for n in range(1, 4)), server
    assert [server[f"waktu_task{n}"] for n in range(4, 7)] == [0, 0, 0]
    assert code_of(await world.get(f"dashboard/waktutunggu/tanggal/{visit_day().isoformat()}/waktu/x")) == 201


async def test_a_weekly_update_applies_from_tomorrow_and_a_dropped_day_closes_like_an_absence(world):
    """The week's days but one get new hours; the one left out is closed on each of its dates and
    its bookings are cancelled (the doctor's absence)."""
    dropped_day = visit_day() + timedelta(days=2)
    victim = await factories.book(world.queue, noka=BUDI.noka, facility=HOSPITAL, poli="INT", day=dropped_day,
                                  referral_number=BUDI_INT)
    kept = [d for d in range(1, 8) if d != dropped_day.isoweekday()]
    answer = await world.post("jadwaldokter/updatejadwaldokter", {
        "kodepoli": "INT", "kodesubspesialis": "INT", "kodedokter": "D0114R01",
        "jadwal": [{"hari": str(d), "buka": "09:00", "tutup": "13:00"} for d in kept]})
    assert code_of(answer) == 200, answer
    later = visit_day() + timedelta(days=3)
    [moved] = (await world.get(f"jadwaldokter/kodepoli/INT/tanggal/{later.isoformat()}"))["response"]
    assert (moved["jadwal"], moved["kapasitaspasien"], moved["libur"]) == ("09:00-13:00", 30, 0)
    [closed] = (await world.get(f"jadwaldokter/kodepoli/INT/tanggal/{dropped_day.isoformat()}"))["response"]
    assert closed["libur"] == 1
    next_week = (await world.get(f"jadwaldokter/kodepoli/INT/tanggal/"
                                 f"{(dropped_day + timedelta(days=7)).isoformat()}"))["response"]
    assert [s["libur"] for s in next_week] in ([], [1])
    [row] = (await world.get(f"antrean/pendaftaran/kodebooking/{victim.booking.booking_code}"))["response"]
    assert row["status"] == "Batal"
    bad = await world.post("jadwaldokter/updatejadwaldokter", {
        "kodepoli": "INT", "kodedokter": "D0114R01", "jadwal": [{"hari": 9, "buka": "09:00", "tutup": "13:00"}]})
    assert code_of(bad) == 201
    unknown = await world.post("jadwaldokter/updatejadwaldokter", {
        "kodepoli": "INT", "kodedokter": "NOPE", "jadwal": [{"hari": 1, "buka": "09:00", "tutup": "13:00"}]})
    assert code_of(unknown) == 201


async def test_concurrent_desk_bookings_with_one_code_book_once(world):
    code = new_code()
    answers = await asyncio.gather(*(world.post("antrean/add", desk_booking(BUDI, code=code)) for _ in range(8)))
    assert sorted(code_of(a) for a in answers) == [200] + [208] * 7
    assert [b.booking_code for b in await list_bookings(world, visit_day())] == [code]


@pytest.mark.parametrize("payload", [None, {"kodebooking": ""}, {"taskid": 1}, {"kodebooking": "X" * 41,
                                                                                 "taskid": 1, "waktu": 1},
                                     {"kodebooking": "A", "taskid": 1, "waktu": 10**30}, [1, 2]])
async def test_bad_bodies_are_refused_with_201_never_a_500(world, payload):
    answer = await world.post("antrean/updatewaktu", payload)
    assert code_of(answer) == 201 and answer["response"] is None


async def _refusal(call) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return decode_rpc_error(error).code
    raise AssertionError("expected a refusal")


async def test_a_simrs_replaying_its_tasks_after_an_outage_gets_208_for_each_recorded_one(world):
    code = new_code()
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, code=code))) == 200
    tasks = [{"kodebooking": code, "taskid": n, "waktu": at_visit(9, 5 * n)} for n in range(1, 6)]
    assert [code_of(await world.post("antrean/updatewaktu", t)) for t in tasks[:3]] == [200, 200, 200]
    replayed = [code_of(await world.post("antrean/updatewaktu", t)) for t in tasks]
    assert replayed == [208, 208, 208, 200, 200]
    listed = (await world.post("antrean/getlisttask", {"kodebooking": code}))["response"]
    assert [t["taskid"] for t in listed] == [1, 2, 3, 4, 5]

"""Non-JKN desk bookings over the bridge (`antrean/add` with ``jenispasien: "NON JKN"``,
services/queue/desk.py rule 4): a seat of the session's non-JKN quota, with none of a
participant's checks, and never a participant's booking."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.errors import DomainError
from services.kit.partner_auth import signed_metadata
from services.queue import desk
from tests import factories
from tests.bridge.conftest import BUDI_INT, CLINIC, HOSPITAL, at_visit, code_of, visit_day
from tests.bridge.test_antrean import desk_booking, list_bookings, new_code

BUDI, SRI, ANDI = factories.BUDI, factories.SRI, factories.ANDI


def non_jkn(nik: str = "", *, norm: str = "", code: str | None = None, day=None, **fields) -> dict:
    """A desk booking for someone who is not a participant (no card number)."""
    return desk_booking(BUDI, code=code, day=day, jenispasien="NON JKN", nomorkartu="", nik=nik, norm=norm,
                        nomorreferensi="", **fields)


def nik(n: int) -> str:
    return f"3171019{n:09d}"


async def set_quota(world, day, *, quota_jkn: int = 30, quota_non_jkn: int) -> None:
    """The INT doctor's session of ``day`` with these quotas (its usual 08:00–12:00)."""
    await world.partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
        poli_code="INT", doctor_code="D0114R01", doctor_name="dr. Andi Wijaya, Sp.PD", date=day.isoformat(),
        start="08:00", end="12:00", quota_jkn=quota_jkn, quota_non_jkn=quota_non_jkn),
        metadata=signed_metadata(f"dev-secret-{HOSPITAL}", HOSPITAL))


async def remaining_jkn(world, day) -> int:
    reply = await world.queue.ListSchedules(queue_pb2.ListSchedulesRequest(
        facility_code=HOSPITAL, date=day.isoformat(), poli_code="INT"))
    (schedule,) = reply.schedules
    return schedule.remaining_jkn


async def test_a_non_participant_takes_a_non_jkn_seat_and_is_nobodys_booking(world):
    day = visit_day()
    code = new_code()
    answer = await world.post("antrean/add", non_jkn(ANDI.nik, norm="RM-900", code=code))
    assert code_of(answer) == 200, answer
    booked = answer["response"]
    assert (booked["kodebooking"], booked["nomorantrean"], booked["angkaantrean"], booked["norm"]) == (
        code, "INT-1", 1, "RM-900")
    assert (booked["sisakuotajkn"], booked["kuotajkn"], booked["sisakuotanonjkn"], booked["kuotanonjkn"]) == (
        30, 30, 9, 10)
    jkn = await world.post("antrean/add", desk_booking(BUDI))
    assert code_of(jkn) == 200
    assert (jkn["response"]["angkaantrean"], jkn["response"]["sisakuotajkn"],
            jkn["response"]["sisakuotanonjkn"]) == (2, 29, 9)
    for person in (ANDI, BUDI):  # the NIK's owner is a participant, but this booking is not theirs
        mine = await world.queue.ListBookings(queue_pb2.ListBookingsRequest(caller=factories.caller(person.noka)))
        assert code not in [b.booking_code for b in mine.bookings]
    [row] = (await world.get(f"antrean/pendaftaran/kodebooking/{code}"))["response"]
    assert (row["ispeserta"], row["nokapst"], row["norekammedis"], row["sumberdata"]) == (
        0, "", "RM-900", "Bridging Antrean")
    assert sorted(b.booking_code for b in await list_bookings(world, day)) == sorted(
        [code, jkn["response"]["kodebooking"]])
    assert code_of(await world.post("antrean/add", non_jkn(ANDI.nik, code=code))) == 208
    other = await world.post("antrean/add", non_jkn(nik(1), code=code), facility=CLINIC)
    assert code_of(other) == 201


async def test_one_active_non_jkn_booking_per_nik_or_record_number_poli_and_date(world):
    day = visit_day()
    assert code_of(await world.post("antrean/add", non_jkn(nik(1)))) == 200
    again = await world.post("antrean/add", non_jkn(nik(1), norm="RM-1"))
    assert code_of(again) == 201 and "antrean aktif" in again["metaData"]["message"]
    assert code_of(await world.post("antrean/add", non_jkn(nik(1), day=day + timedelta(days=1)))) == 200
    assert code_of(await world.post("antrean/add", non_jkn(norm="RM-77"))) == 200
    assert code_of(await world.post("antrean/add", non_jkn(norm="rm-77 "))) == 200  # another record number
    assert code_of(await world.post("antrean/add", non_jkn(norm="RM-77"))) == 201
    nobody = await world.post("antrean/add", non_jkn())
    assert code_of(nobody) == 201 and "nik" in nobody["metaData"]["message"]
    bad_nik = await world.post("antrean/add", non_jkn("12345"))
    assert code_of(bad_nik) == 201 and "nik" in bad_nik["metaData"]["message"]
    no_doctor = await world.post("antrean/add", non_jkn(nik(2), kodedokter="NOPE"))
    assert code_of(no_doctor) == 201
    too_late = await world.post("antrean/add", non_jkn(nik(2), day=day + timedelta(days=40)))
    assert code_of(too_late) == 201


async def test_concurrent_bookings_never_pass_the_non_jkn_quota_nor_touch_the_jkn_seats(world):
    day = visit_day()
    await set_quota(world, day, quota_non_jkn=3)
    answers = await asyncio.gather(*(world.post("antrean/add", non_jkn(nik(100 + n))) for n in range(8)))
    assert sorted(code_of(a) for a in answers) == [200] * 3 + [201] * 5
    assert {a["metaData"]["message"] for a in answers if code_of(a) == 201} == {"Kuota non JKN penuh"}
    seats = sorted(a["response"]["angkaantrean"] for a in answers if code_of(a) == 200)
    assert seats == [1, 2, 3]
    assert await remaining_jkn(world, day) == 30
    jkn = await world.post("antrean/add", desk_booking(BUDI))  # the JKN quota is still there
    assert code_of(jkn) == 200 and jkn["response"]["sisakuotanonjkn"] == 0


async def test_a_cancelled_non_jkn_seat_goes_back_to_the_non_jkn_quota_not_to_the_jkn_waitlist(world):
    day = visit_day() + timedelta(days=1)
    await set_quota(world, day, quota_jkn=1, quota_non_jkn=1)
    assert code_of(await world.post("antrean/add", desk_booking(BUDI, day=day, referral=BUDI_INT))) == 200
    referral = await world.partner.IssueReferral(partner_pb2.IssueReferralRequest(
        noka=SRI.noka, to_facility_code=HOSPITAL, poli_code="INT", visit_type=queue_pb2.VISIT_TYPE_FKTP_REFERRAL),
        metadata=signed_metadata(f"dev-secret-{CLINIC}", CLINIC))
    schedule = await factories.schedule_id(world.queue, facility=HOSPITAL, poli="INT", day=day)
    entry = (await world.queue.JoinWaitlist(queue_pb2.JoinWaitlistRequest(
        caller=factories.caller(SRI.noka), schedule_id=schedule, date=day.isoformat(),
        referral_number=referral.referral_number))).entry
    code = new_code()
    assert code_of(await world.post("antrean/add", non_jkn(nik(5), code=code, day=day))) == 200
    full = await world.post("antrean/add", non_jkn(nik(6), day=day))
    assert code_of(full) == 201 and full["metaData"]["message"] == "Kuota non JKN penuh"
    assert code_of(await world.post("antrean/batal", {"kodebooking": code, "keterangan": "batal"})) == 200
    assert code_of(await world.post("antrean/batal", {"kodebooking": code, "keterangan": "batal"})) == 208
    waiting = await world.queue.ListWaitlist(queue_pb2.ListWaitlistRequest(caller=factories.caller(SRI.noka)))
    assert [(e.waitlist_id, e.status) for e in waiting.entries] == [(entry.waitlist_id,
                                                                    queue_pb2.WAITLIST_STATUS_WAITING)]
    assert await remaining_jkn(world, day) == 0
    freed = await world.post("antrean/add", non_jkn(nik(6), day=day))
    assert code_of(freed) == 200 and freed["response"]["sisakuotanonjkn"] == 0


async def test_task_99_on_the_day_frees_the_non_jkn_seat(world):
    day = visit_day()
    await set_quota(world, day, quota_non_jkn=1)
    code = new_code()
    assert code_of(await world.post("antrean/add", non_jkn(nik(7), code=code))) == 200
    assert code_of(await world.post("antrean/add", non_jkn(nik(8)))) == 201
    assert code_of(await world.post("antrean/updatewaktu", {"kodebooking": code, "taskid": 99,
                                                            "waktu": at_visit(9, 30)})) == 200
    assert code_of(await world.post("antrean/add", non_jkn(nik(8)))) == 200
    assert await remaining_jkn(world, day) == 30


def test_a_non_participant_is_known_by_nik_or_else_by_record_number():
    assert desk.patient_key(nik=" 3171010000000001 ", medical_record_number="RM-1") == "NIK:3171010000000001"
    assert desk.patient_key(nik="", medical_record_number=" RM-1 ") == "RM:RM-1"
    for nik, record in (("", ""), (None, None), ("317101", "RM-1"), ("317101000000000X", None)):
        with pytest.raises(DomainError) as refused:
            desk.patient_key(nik=nik, medical_record_number=record)
        assert refused.value.code == "VALIDATION_ERROR"

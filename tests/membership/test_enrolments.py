"""Enrolling a new family (`enrolments`): the order of the checks — the captcha before any database
lookup, every malformed field a 422 naming it, the NIKs and the family card — and the completion under
racing requests, against membership's real database (notify and queue stand in as small fakes that
record what they were asked)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2
from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import queue_pb2
from services.kit.clock import jakarta_today
from services.kit.errors import DomainError
from services.membership import enrolments, views

BUDI_NIK = "3171011501800001"  # a participant already (CONTRACT.md §6)
HENDRA = membership_pb2.EnrollmentMember(nik="3171011004880001", name="Hendra Gunawan", birth_date="1988-04-10",
                                         sex=membership_pb2.SEX_MALE, relation=membership_pb2.RELATION_HEAD)
RINA = membership_pb2.EnrollmentMember(nik="3171016512900001", name="Rina Marlina", birth_date="1990-12-25",
                                       sex=membership_pb2.SEX_FEMALE, relation=membership_pb2.RELATION_SPOUSE)


def request(**change) -> membership_pb2.StartEnrollmentRequest:
    fields = {"kk_number": "3171010101260099", "address": "Jl. Cikini Raya No. 99, Jakarta Pusat",
              "phone": "081298765432", "email": "keluarga.baru@example.id", "care_class": 3,
              "fktp_code": "0114U001", "members": [HENDRA, RINA], "captcha_passed": True, **change}
    return membership_pb2.StartEnrollmentRequest(**fields)


class Notify:
    """NotifyService as enrolment uses it: every code issued is approved."""

    def __init__(self) -> None:
        self.issued: list[notify_pb2.IssueOtpRequest] = []

    async def IssueOtp(self, req: notify_pb2.IssueOtpRequest) -> notify_pb2.IssueOtpResponse:  # noqa: N802
        self.issued.append(req)
        return notify_pb2.IssueOtpResponse(verification=notify_pb2.Verification(
            verification_id=str(uuid.uuid4()), channel=common_pb2.CHANNEL_SMS, expires_in_s=300))

    async def CheckOtp(self, req: notify_pb2.CheckOtpRequest) -> notify_pb2.CheckOtpResponse:  # noqa: N802
        return notify_pb2.CheckOtpResponse(result=notify_pb2.CHECK_OTP_RESULT_APPROVED)


class Queue:
    """QueueService as enrolment uses it: every code is Klinik Pratama Sehat Menteng, an FKTP."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def GetFacility(self, req: queue_pb2.GetFacilityRequest) -> queue_pb2.GetFacilityResponse:  # noqa: N802
        self.asked.append(req.code)
        return queue_pb2.GetFacilityResponse(facility=queue_pb2.Facility(
            code=req.code, name="Klinik Pratama Sehat Menteng", type=queue_pb2.FACILITY_TYPE_FKTP))


class NoDatabase:
    """A pool that must not be used."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the database was used ({name})")


async def start(pool, req: membership_pb2.StartEnrollmentRequest, *, captcha_on: bool = True,
                notify: Notify | None = None, queue: Queue | None = None) -> enrolments.Started:
    return await enrolments.start(pool, notify=notify or Notify(), queue=queue or Queue(),  # type: ignore[arg-type]
                                  application=views.application(req), captcha_on=captcha_on,
                                  captcha_passed=req.captcha_passed, client_ip="203.0.113.9",
                                  language=common_pb2.LANGUAGE_ID, today=jakarta_today())


async def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value


def fields_of(error: DomainError) -> list[str]:
    assert error.code == "VALIDATION_ERROR"
    return [e["field"] for e in error.fields["errors"]]


# --- start step 1 (enrolment rule 4): the captcha, before anything is looked up ----------------------------------


@pytest.mark.parametrize("members", [[HENDRA], [membership_pb2.EnrollmentMember(nik=BUDI_NIK)]])
async def test_with_the_captcha_on_an_application_without_one_is_refused_before_any_lookup(members):
    notify, queue = Notify(), Queue()
    error = await refusal(start(NoDatabase(), request(captcha_passed=False, members=members), notify=notify,
                                queue=queue))
    assert error.code == "CAPTCHA_REQUIRED"
    assert notify.issued == [] and queue.asked == []


async def test_with_the_captcha_passed_a_known_nik_is_already_registered(membership_db):
    budi = membership_pb2.EnrollmentMember(nik=BUDI_NIK, name="Budi Santoso", birth_date="1980-01-15",
                                           sex=membership_pb2.SEX_MALE, relation=membership_pb2.RELATION_HEAD)
    error = await refusal(start(membership_db, request(members=[budi])))
    assert error.code == "ALREADY_REGISTERED"


async def test_with_the_captcha_off_none_is_needed(membership_db):
    started = await start(membership_db, request(captcha_passed=False), captcha_on=False)
    assert await membership_db.fetchval("SELECT count(*) FROM enrollments WHERE id = $1", started.enrollment_id) == 1


# --- start step 2 (enrolment rule 1): every malformed field a 422 naming it ----------------------------------------


@pytest.mark.parametrize(("change", "fields"), [
    ({"members": [membership_pb2.EnrollmentMember(nik=HENDRA.nik, name=HENDRA.name, birth_date=HENDRA.birth_date,
                                                  sex=HENDRA.sex, relation=99)]}, ["members", "members.0.relation"]),
    ({"members": [HENDRA, membership_pb2.EnrollmentMember(nik=RINA.nik, name=RINA.name, birth_date=RINA.birth_date,
                                                          sex=7, relation=RINA.relation)]}, ["members.1.sex"]),
    ({"members": [HENDRA, membership_pb2.EnrollmentMember(nik=RINA.nik, name=RINA.name, birth_date=RINA.birth_date,
                                                          relation=RINA.relation)]}, ["members.1.sex"]),
    ({"members": [HENDRA, membership_pb2.EnrollmentMember(nik=RINA.nik, name=RINA.name, birth_date="25-12-1990",
                                                          sex=RINA.sex, relation=RINA.relation)]},
     ["members.1.birth_date"]),
    ({"members": [HENDRA, membership_pb2.EnrollmentMember(nik=RINA.nik, name=RINA.name, birth_date="1990-02-30",
                                                          sex=RINA.sex, relation=RINA.relation)]},
     ["members.1.birth_date"]),
    ({"members": [HENDRA, membership_pb2.EnrollmentMember(nik="x" * 10_000, name="y" * 10_000, birth_date="z",
                                                          sex=RINA.sex, relation=RINA.relation)]},
     ["members.1.nik", "members.1.name", "members.1.birth_date"]),
    ({"members": [HENDRA] * 5000}, ["members"]),
    ({"care_class": 2**31 - 1}, ["class"]),
    ({"care_class": -(2**31)}, ["class"]),
    ({"kk_number": "3171O10101260099"}, ["kk_number"]),
    ({"address": ""}, ["address"]),
    ({"address": "x" * 301}, ["address"]),
    ({"phone": ""}, ["phone"]),
    ({"phone": "12345"}, ["phone"]),
    ({"phone": "+14155550100"}, ["phone"]),   # not an Indonesian mobile number
    ({"phone": "0" * 10_000}, ["phone"]),
    ({"email": ""}, ["email"]),
    ({"email": "keluarga"}, ["email"]),
    ({"email": "a@b." + "c" * 300}, ["email"]),
])
async def test_a_malformed_application_is_a_validation_error_naming_the_field_before_any_lookup(change, fields):
    error = await refusal(start(NoDatabase(), request(**change)))
    assert fields_of(error) == fields


@pytest.mark.parametrize("code", ["", "   ", "0114-U001", "X" * 21, "０１１４Ｕ００１"])
async def test_a_malformed_fktp_code_is_no_facility_and_queue_is_not_asked(membership_db, code):
    queue = Queue()
    error = await refusal(start(membership_db, request(fktp_code=code), queue=queue))
    assert error.code == "FACILITY_INVALID" and queue.asked == []


async def test_the_phone_is_kept_and_texted_in_e164(membership_db):
    notify = Notify()
    started = await start(membership_db, request(phone=" 0812-9876-5432 "), notify=notify)
    assert [r.destination for r in notify.issued] == ["+6281298765432"]
    assert await membership_db.fetchval("SELECT application->>'phone' FROM enrollments WHERE id = $1",
                                        started.enrollment_id) == "+6281298765432"


# --- complete ------------------------------------------------------------------------------------------------------


async def complete(pool, enrollment_id: str) -> enrolments.Enrolled:
    return await enrolments.complete(pool, notify=Notify(), enrollment_id=enrollment_id,  # type: ignore[arg-type]
                                     code="123456", today=jakarta_today())


@pytest.mark.parametrize("enrollment_id", ["", "not-a-uuid", "urn:uuid:", "{{" + str(uuid.UUID(int=1)) + "}}",
                                           "x" * 10_000, str(uuid.uuid4())])
async def test_an_enrolment_id_that_names_nothing_is_not_found(membership_db, enrollment_id):
    assert (await refusal(complete(membership_db, enrollment_id))).code == "NOT_FOUND"


async def test_any_spelling_of_the_enrolment_id_finds_it(membership_db):
    started = await start(membership_db, request())
    enrolled = await complete(membership_db, "{" + started.enrollment_id.hex.upper() + "}")
    assert [m["name"] for m in enrolled.members] == ["HENDRA GUNAWAN", "RINA MARLINA"]
    assert enrolled.payment["amount_idr"] == 2 * 35_000


async def test_racing_completions_of_one_enrolment_enrol_the_family_once(membership_db):
    started = await start(membership_db, request())
    answers = await asyncio.gather(*(complete(membership_db, str(started.enrollment_id)) for _ in range(5)),
                                   return_exceptions=True)
    assert sum(isinstance(a, enrolments.Enrolled) for a in answers) == 1
    assert sorted(a.code for a in answers if isinstance(a, DomainError)) == ["NOT_FOUND"] * 4
    assert await membership_db.fetchval("SELECT count(*) FROM families WHERE kk_number = '3171010101260099'") == 1


async def test_racing_applications_for_the_same_people_enrol_them_once(membership_db):
    first = await start(membership_db, request())
    second = await start(membership_db, request(kk_number="3171010101260098"))
    third = await start(membership_db, request(members=[HENDRA]))  # the same family card as the first
    answers = await asyncio.gather(*(complete(membership_db, str(s.enrollment_id)) for s in (first, second, third)),
                                   return_exceptions=True)
    assert sum(isinstance(a, enrolments.Enrolled) for a in answers) == 1
    assert [a.code for a in answers if isinstance(a, BaseException)] == ["ALREADY_REGISTERED"] * 2
    assert await membership_db.fetchval("SELECT count(*) FROM participants WHERE nik = $1", HENDRA.nik) == 1


async def test_an_expired_application_is_not_found(membership_db):
    started = await start(membership_db, request())
    await membership_db.execute("UPDATE enrollments SET expires_at = now() - $1::interval", timedelta(seconds=1))
    assert (await refusal(complete(membership_db, str(started.enrollment_id)))).code == "NOT_FOUND"

"""Enrolling a new self-paying family (POST /v1/enrollments, .../verify): the order of the checks
and the transaction that creates the family. The rules are `enrolment_rules`' (rules 1–4 below are
its rules); the premiums and the payment are `premiums`' and `billing`'s.

`start`:
1. Rule 4: with the captcha on, a passed captcha (CAPTCHA_REQUIRED), before anything else — in
   particular before any database lookup, since step 3's ALREADY_REGISTERED says whether a NIK
   or a family card is known.
2. Rule 1 without the database (`enrolment_rules.validate_application`): KK, class, address,
   phone, email, members (names, birth dates, sexes, relations, NIKs), every problem at once.
3. Rule 1 with it: the family card and every NIK not yet registered (ALREADY_REGISTERED).
4. The chosen FKTP is an FKTP (FKTP rule 3, asked of queue: FACILITY_INVALID).
5. Rule 2: an SMS code to the phone (purpose ENROLLMENT, the enrolment id as the flow); the
   application is kept for 24 hours, with the phone in E.164.

`complete`:
1. The enrolment is pending and not expired (NOT_FOUND; an id that is not a UUID too, inputs
   rule 3), and the code is right (the OTP errors).
2. Rule 3, in one transaction holding the enrolment's lock (a racing completion of the same
   enrolment is NOT_FOUND): no NIK and not the family card registered meanwhile
   (ALREADY_REGISTERED, also when a racing application wins the insert); the family and its members
   (TIDAK_AKTIF / MENUNGGU_PEMBAYARAN, new NOKAs), the first month's bills, a payment for them
   (counted ``created``), and `events.family_enrolled`. Paying it makes the family AKTIF
   (payments rule 8, `billing.settle`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from jkn.queue.v1 import queue_pb2_grpc
from services.contracts import otp
from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, NotFound
from services.membership import billing, enrolment_rules, events, fktp_changes, inputs, metrics, premiums, store


@dataclass(frozen=True)
class Application:
    """An application as the applicant sent it (text trimmed, names upper-case)."""

    kk_number: str
    address: str
    phone: str
    email: str
    care_class: int
    fktp_code: str
    #: ``{nik, name, birth_date: date | None, sex: "M"|"F"|"?", relation: "HEAD"|…|"?"}`` each (None and
    #: "?": not a date, not a known value).
    members: list[dict[str, Any]]


@dataclass(frozen=True)
class Started:
    enrollment_id: uuid.UUID
    verification: notify_pb2.Verification


@dataclass(frozen=True)
class Enrolled:
    #: The new participants, in the application's order.
    members: list[asyncpg.Record]
    #: The first payment (`store.open_payment`'s row).
    payment: asyncpg.Record


async def start(pool: asyncpg.Pool, *, notify: notify_pb2_grpc.NotifyServiceStub,
                queue: queue_pb2_grpc.QueueServiceStub, application: Application, captcha_on: bool,
                captcha_passed: bool, client_ip: str, language: common_pb2.Language.ValueType,
                today: date) -> Started:
    """`start`'s steps 1–5."""
    enrolment_rules.require_captcha(captcha_on=captcha_on, captcha_passed=captcha_passed)
    enrolment_rules.validate_application(kk_number=application.kk_number, care_class=application.care_class,
                                         address=application.address, phone=application.phone,
                                         email=application.email, members=application.members, today=today)
    if await store.kk_registered(pool, kk_number=application.kk_number):
        raise DomainError("family card already registered", code="ALREADY_REGISTERED")
    taken = await store.taken_niks(pool, niks=[m["nik"] for m in application.members])
    if taken:
        raise enrolment_rules.already_registered(taken)
    facility = await fktp_changes.new_fktp(queue, code=application.fktp_code, current_code="")
    enrollment_id = uuid.uuid4()
    phone = normalize_phone(application.phone) or application.phone
    issued = await notify.IssueOtp(notify_pb2.IssueOtpRequest(
        purpose=notify_pb2.OTP_PURPOSE_ENROLLMENT, flow_id=str(enrollment_id), channel=common_pb2.CHANNEL_SMS,
        destination=phone, client_ip=client_ip, idempotency_key=str(enrollment_id), language=language))
    stored = {"kk_number": application.kk_number, "address": application.address, "phone": phone,
              "email": application.email, "care_class": application.care_class, "fktp_code": facility.code,
              "fktp_name": facility.name,
              "members": [{**m, "birth_date": m["birth_date"].isoformat()} for m in application.members]}
    await store.add_enrollment(pool, enrollment_id=enrollment_id, application=stored,
                               verification_id=issued.verification.verification_id,
                               expires_at=datetime.now(UTC) + enrolment_rules.APPLICATION_LIFETIME)
    return Started(enrollment_id=enrollment_id, verification=issued.verification)


async def complete(pool: asyncpg.Pool, *, notify: notify_pb2_grpc.NotifyServiceStub, enrollment_id: str,
                   code: str, today: date) -> Enrolled:
    """`complete`'s steps 1–2."""
    by_id = inputs.as_uuid(enrollment_id)
    pending = await store.pending_enrollment(pool, enrollment_id=by_id) if by_id is not None else None
    if pending is None:
        raise NotFound("no such enrolment")
    await otp.check_or_raise(notify, verification_id=pending.verification_id, code=code,
                             purpose=notify_pb2.OTP_PURPOSE_ENROLLMENT, flow_id=str(pending.id))
    try:
        return await _enroll(pool, pending=pending, today=today)
    except asyncpg.UniqueViolationError:  # a NIK or the family card enrolled by a racing application
        raise DomainError("registered meanwhile", code="ALREADY_REGISTERED") from None


async def _enroll(pool: asyncpg.Pool, *, pending: store.PendingEnrollment, today: date) -> Enrolled:
    """`complete`'s step 2."""
    application = pending.application
    premium_idr = premiums.monthly_premium_idr(application["care_class"])
    async with pool.acquire() as conn, conn.transaction():
        if not await store.lock_pending_enrollment(conn, enrollment_id=pending.id):
            raise NotFound("no such enrolment")  # completed by a racing request with the same code
        taken = await store.taken_niks(conn, niks=[m["nik"] for m in application["members"]])
        if taken:  # registered by someone else between the application and the code
            raise enrolment_rules.already_registered(taken)
        if await store.kk_registered(conn, kk_number=application["kk_number"]):
            raise DomainError("family card registered meanwhile", code="ALREADY_REGISTERED")
        period = premiums.period_of(today)
        family_id, members = await store.enroll_family(
            conn, enrollment_id=pending.id, kk_number=application["kk_number"], address=application["address"],
            care_class=application["care_class"], fktp_code=application["fktp_code"],
            fktp_name=application["fktp_name"], members=application["members"], period=period,
            premium_idr=premium_idr, registered_on=today)
        head = next(m for m in members if m["relation"] == "HEAD")
        payment = await billing.open_payment_in(conn, family_id=family_id, head_noka=head["noka"],
                                                amount_idr=premium_idr * len(members), periods=[period])
        await events.family_enrolled(conn, head_noka=head["noka"], nokas=[m["noka"] for m in members])
    metrics.PAYMENTS.labels("created").inc()
    return Enrolled(members=members, payment=payment)

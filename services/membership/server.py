"""Membership's gRPC servicers (internal and partner): thin translation to store and rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2, membership_pb2_grpc, partner_pb2, partner_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.contracts import otp
from services.kit.errors import DomainError, NotFound, ValidationFailed
from services.kit.ids import is_uuid
from services.kit.outbox import add_event
from services.kit.partner_auth import PartnerSecrets, authenticate
from services.kit.signing import SigningKey, jwks_message_fields
from services.membership import card, enrollment, fktp, identifiers, metrics, payments, premiums, store, views

EVENTS_TOPIC = "membership.events"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "code": "invalid", "message": message}])


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "expected YYYY-MM-DD") from None


async def _participant(pool: asyncpg.Pool, *, noka: str = "", nik: str = "", participant_id: str = ""
                       ) -> asyncpg.Record:
    if noka and not identifiers.is_noka(noka):
        raise _invalid("noka", "13 digits")
    if nik and identifiers.identifier_kind(nik) != "nik":
        raise _invalid("nik", "16 digits")
    row = await store.participant_by(pool, noka=noka or None, nik=nik or None, participant_id=participant_id or None)
    if row is None:
        raise NotFound("no such participant")
    return row


class MembershipServicer(membership_pb2_grpc.MembershipServiceServicer):
    """Participants, families, cards, bills, FKTP changes, enrolment (for the gateway and auth)."""

    def __init__(self, *, pool: asyncpg.Pool, today: Callable[[], date], payment_secret: str,
                 card_keys: list[SigningKey], card_validity: timedelta, queue: queue_pb2_grpc.QueueServiceStub,
                 notify: notify_pb2_grpc.NotifyServiceStub):
        self.pool, self.today, self.payment_secret = pool, today, payment_secret
        self.card_keys, self.card_validity, self.queue, self.notify = card_keys, card_validity, queue, notify

    async def StartEnrollment(self, request, context):
        """Enrolment rules 1–2: check the application, then send the SMS code."""
        members = [{"nik": m.nik, "name": m.name.strip().upper(), "birth_date": _date(m.birth_date, "birth_date"),
                    "sex": {membership_pb2.SEX_MALE: "M", membership_pb2.SEX_FEMALE: "F"}.get(m.sex, "?"),
                    "relation": membership_pb2.Relation.Name(m.relation).removeprefix("RELATION_")}
                   for m in request.members]
        enrollment.validate_application(kk_number=request.kk_number, care_class=request.care_class, members=members)
        if await store.kk_registered(self.pool, request.kk_number):
            raise DomainError("family card already registered", code="ALREADY_REGISTERED")
        taken = await store.taken_niks(self.pool, [m["nik"] for m in members])
        if taken:
            raise enrollment.already_registered(taken)
        facility = await self._fktp(request.fktp_code.strip().upper(), current="")
        enrollment_id = uuid.uuid4()
        issued = await self.notify.IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=notify_pb2.OTP_PURPOSE_ENROLLMENT, flow_id=str(enrollment_id), channel=common_pb2.CHANNEL_SMS,
            destination=request.phone, client_ip=request.client.client_ip, idempotency_key=str(enrollment_id),
            language=request.client.language))
        application = {"kk_number": request.kk_number, "address": request.address.strip(), "phone": request.phone,
                       "email": request.email.strip().lower(), "care_class": request.care_class,
                       "fktp_code": facility.code, "fktp_name": facility.name,
                       "members": [{**m, "birth_date": m["birth_date"].isoformat()} for m in members]}
        await store.add_enrollment(self.pool, enrollment_id=enrollment_id, application=json.dumps(application),
                                   verification_id=issued.verification.verification_id,
                                   expires_at=datetime.now(UTC) + enrollment.APPLICATION_LIFETIME)
        return membership_pb2.StartEnrollmentResponse(enrollment_id=str(enrollment_id),
                                                      otp=otp.challenge(issued.verification))

    async def CompleteEnrollment(self, request, context):
        """Enrolment rule 3: a verified code creates the family, awaiting its first payment."""
        pending = await store.pending_enrollment(self.pool, request.enrollment_id) \
            if is_uuid(request.enrollment_id) else None
        if pending is None:
            raise NotFound("no such enrolment")
        await otp.check_or_raise(self.notify, verification_id=pending["verification_id"], code=request.code,
                                           purpose=notify_pb2.OTP_PURPOSE_ENROLLMENT, flow_id=request.enrollment_id)
        application = json.loads(pending["application"])
        today = self.today()
        async with self.pool.acquire() as conn, conn.transaction():
            taken = await store.taken_niks(conn, [m["nik"] for m in application["members"]])
            if taken:  # registered by someone else between the application and the code
                raise enrollment.already_registered(taken)
            period = premiums.period_of(today)
            family_id, members = await store.enroll_family(
                conn, enrollment_id=pending["id"], application=application, period=period,
                premium_idr=premiums.monthly_premium_idr(application["care_class"]), registered_on=today)
            created = datetime.now(UTC)
            head = next(m for m in members if m["relation"] == "HEAD")
            payment = await store.open_payment(
                conn, family_id=family_id, account=payments.virtual_account(head["noka"]),
                amount_idr=premiums.monthly_premium_idr(application["care_class"]) * len(members), periods=[period],
                expires_at=premiums.payment_expires_at(created))
            await add_event(conn, topic=EVENTS_TOPIC, event_type="family_enrolled", key=head["noka"],
                            payload=json.dumps({"nokas": [m["noka"] for m in members]}).encode())
        metrics.PAYMENTS.labels("created").inc()
        return membership_pb2.CompleteEnrollmentResponse(participants=[views.participant(m) for m in members],
                                                         payment=_payment(payment))

    async def RequestFktpChange(self, request, context):
        """FKTP rules 1–3: once per 3 calendar months, to another FKTP, effective the 1st of next month."""
        row = await _participant(self.pool, noka=request.noka)
        today = self.today()
        since = await store.last_fktp_change_on(self.pool, row["id"]) or row["registered_on"]
        if not fktp.can_change(last_change_or_registration=since, today=today):
            raise DomainError("FKTP changed too recently", code="FKTP_CHANGE_TOO_SOON",
                              next_allowed_date=fktp.next_change_allowed_on(since).isoformat())
        facility = await self._fktp(request.facility_code.strip().upper(), current=row["fktp_code"])
        effective = fktp.effective_date(today)
        async with self.pool.acquire() as conn, conn.transaction():
            await store.add_fktp_change(conn, participant_id=row["id"], from_code=row["fktp_code"],
                                        to_code=facility.code, to_name=facility.name, requested_on=today,
                                        effective_date=effective)
            await add_event(conn, topic=EVENTS_TOPIC, event_type="fktp_change_requested", key=row["noka"],
                            payload=json.dumps({"noka": row["noka"], "to": facility.code,
                                                "effective_date": effective.isoformat()}).encode())
        return membership_pb2.RequestFktpChangeResponse(change=membership_pb2.FktpChange(
            facility=common_pb2.CodeName(code=facility.code, name=facility.name), effective_date=effective.isoformat()))

    async def _fktp(self, code: str, *, current: str) -> queue_pb2.Facility:
        """FKTP rule 3, asked of the facilities' owner (queue)."""
        try:
            reply = await self.queue.GetFacility(queue_pb2.GetFacilityRequest(code=code))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise DomainError("no such facility", code="FACILITY_INVALID") from None
            raise
        if reply.facility.type != queue_pb2.FACILITY_TYPE_FKTP or reply.facility.code == current:
            raise DomainError("not another first-level facility", code="FACILITY_INVALID")
        return reply.facility

    async def GetCard(self, request, context):
        """Card rule 1: the card's fields and its signed QR payload."""
        row = await _participant(self.pool, noka=request.noka)
        claims = card.card_claims(noka=row["noka"], name=row["name"], care_class=row["care_class"],
                                  fktp_code=row["fktp_code"], issued_at=datetime.now(UTC), validity=self.card_validity)
        token = card.sign_card(self.card_keys[0], claims)
        expires_at = Timestamp()
        expires_at.FromSeconds(int(claims["exp"]))  # type: ignore[arg-type]
        view = views.participant(row)
        return membership_pb2.GetCardResponse(card=membership_pb2.Card(
            noka=row["noka"], name=row["name"], birth_date=row["birth_date"].isoformat(),
            care_class=row["care_class"], segment=view.segment, fktp=view.fktp, qr_payload=token,
            signature=token.rpartition(".")[2], key_id=self.card_keys[0].kid, expires_at=expires_at))

    async def GetCardKeys(self, request, context):
        return membership_pb2.GetCardKeysResponse(max_age_s=3600, **jwks_message_fields(self.card_keys))

    async def MatchIdentity(self, request, context):
        """Identifier (NIK or NOKA) + birth date → the participant, or matched=false (never which part failed)."""
        kind = identifiers.identifier_kind(request.identifier)
        if kind is None:
            raise _invalid("identifier", "a NIK (16 digits) or a NOKA (13 digits)")
        born = _date(request.birth_date, "birth_date")
        row = await store.participant_by(self.pool, **{kind: request.identifier})
        if row is None or row["birth_date"] != born:
            return membership_pb2.MatchIdentityResponse(matched=False)
        return membership_pb2.MatchIdentityResponse(matched=True, participant_id=str(row["id"]), noka=row["noka"],
                                                    nik=row["nik"])

    async def GetParticipant(self, request, context):
        row = await _participant(self.pool, noka=request.noka, nik=request.nik,
                                 participant_id=request.participant_id)
        pending = await store.pending_fktp_changes(self.pool, [row["id"]])
        return membership_pb2.GetParticipantResponse(participant=views.participant(row, pending.get(row["id"])))

    async def GetMembership(self, request, context):
        """The participant and the whole family (head first) and whether all of it is AKTIF."""
        row = await _participant(self.pool, noka=request.noka)
        family = await store.family_of(self.pool, row["family_id"])
        pending = await store.pending_fktp_changes(self.pool, [m["id"] for m in family])
        return membership_pb2.GetMembershipResponse(
            participant=views.participant(row, pending.get(row["id"])),
            family=[views.participant(m, pending.get(m["id"])) for m in family],
            all_family_active=all(m["status"] == "AKTIF" for m in family))

    async def ListBills(self, request, context):
        """The family's monthly bills (none for PBI and PPU), newest first, and the arrears total."""
        row = await _participant(self.pool, noka=request.noka)
        if not premiums.is_billed(row["segment"]):
            return membership_pb2.ListBillsResponse(arrears_total_idr=0)
        today = self.today()
        bills = await store.family_bills(self.pool, row["family_id"])
        arrears = sum(b["amount_idr"] for b in bills
                      if premiums.in_arrears(status=b["status"], period=b["period"], today=today))
        return membership_pb2.ListBillsResponse(arrears_total_idr=arrears, bills=[
            membership_pb2.Bill(period=b["period"], amount_idr=b["amount_idr"],
                                status=membership_pb2.BillStatus.Value(f"BILL_STATUS_{b['status']}"),
                                due_date=premiums.due_date(b["period"]).isoformat())
            for b in bills])


    async def CreatePayment(self, request, context):
        """Payments rule 1: a virtual account for the chosen (or all) unpaid periods of the family."""
        for period in request.periods:
            if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
                raise _invalid("periods", "YYYY-MM")
        row = await _participant(self.pool, noka=request.noka)
        async with self.pool.acquire() as conn, conn.transaction():
            bills = await store.unpaid_family_bills(conn, row["family_id"], list(request.periods))
            if not bills:
                raise _invalid("periods", "nothing unpaid to pay")
            head = (await store.family_of(conn, row["family_id"]))[0]
            created = datetime.now(UTC)
            payment = await store.open_payment(
                conn, family_id=row["family_id"], account=payments.virtual_account(head["noka"]),
                amount_idr=sum(b["amount_idr"] for b in bills), periods=sorted({b["period"] for b in bills}),
                expires_at=premiums.payment_expires_at(created))
        metrics.PAYMENTS.labels("created").inc()
        return membership_pb2.CreatePaymentResponse(payment=_payment(payment))

    async def HandlePaymentCallback(self, request, context):
        """Payments rules 2–5: the provider's signed webhook, idempotent on provider_ref (counted
        once committed: paid with its amount, duplicate, or rejected)."""
        try:
            reply, amount_idr = await self._settle(request)
        except DomainError:
            metrics.PAYMENTS.labels("rejected").inc()
            raise
        metrics.PAYMENTS.labels("duplicate" if reply.replayed else "paid").inc()
        metrics.PAID_AMOUNT_IDR.inc(amount_idr)
        return reply

    async def _settle(self, request: membership_pb2.HandlePaymentCallbackRequest
                      ) -> tuple[membership_pb2.HandlePaymentCallbackResponse, int]:
        """The callback's answer and the rupiah it newly paid (0 for a replay)."""
        payments.verify_signature(self.payment_secret, request.raw_body, request.signature)
        callback = payments.parse_callback(request.raw_body)
        async with self.pool.acquire() as conn, conn.transaction():
            seen = await store.payment_by_provider_ref(conn, callback.provider_ref)
            if seen is not None:
                return membership_pb2.HandlePaymentCallbackResponse(
                    payment_id=str(seen["id"]), status=membership_pb2.PAYMENT_STATUS_PAID, replayed=True), 0
            payment = await store.payment_for_update(conn, callback.payment_id) \
                if is_uuid(callback.payment_id) else None
            if payment is None:
                raise NotFound("no such payment")
            payments.check_matches(callback=callback, amount_idr=payment["amount_idr"],
                                   account=payment["virtual_account"], status=payment["status"],
                                   expires_at=payment["expires_at"])
            await store.mark_paid(conn, payment_id=payment["id"], family_id=payment["family_id"],
                                  periods=list(payment["periods"]), paid_at=callback.paid_at,
                                  provider_ref=callback.provider_ref)
            family = await store.family_of(conn, payment["family_id"])
            await add_event(conn, topic=EVENTS_TOPIC, event_type="payment_received", key=str(payment["family_id"]),
                            payload=json.dumps({"payment_id": str(payment["id"]), "amount_idr": payment["amount_idr"],
                                                "periods": list(payment["periods"]),
                                                "nokas": [m["noka"] for m in family]}).encode())
            if not await store.family_has_arrears(conn, payment["family_id"], self.today()):
                activated = await store.activate_family(conn, payment["family_id"])
                for noka in activated:
                    await add_event(conn, topic=EVENTS_TOPIC, event_type="status_changed", key=noka,
                                    payload=json.dumps({"noka": noka, "status": "AKTIF"}).encode())
        return membership_pb2.HandlePaymentCallbackResponse(
            payment_id=str(payment["id"]), status=membership_pb2.PAYMENT_STATUS_PAID, replayed=False,
        ), payment["amount_idr"]


def _payment(row: asyncpg.Record) -> membership_pb2.Payment:
    expires_at = Timestamp()
    expires_at.FromDatetime(row["expires_at"])
    return membership_pb2.Payment(payment_id=str(row["id"]), virtual_account=row["virtual_account"],
                                  amount_idr=row["amount_idr"], expires_at=expires_at, periods=list(row["periods"]),
                                  status=membership_pb2.PaymentStatus.Value(f"PAYMENT_STATUS_{row['status']}"))


class PartnerMembershipServicer(partner_pb2_grpc.PartnerMembershipServiceServicer):
    """Eligibility checks for partner hospitals and clinics (HMAC-signed per facility)."""

    def __init__(self, *, pool: asyncpg.Pool, secrets: PartnerSecrets):
        self.pool, self.secrets = pool, secrets

    async def CheckEligibility(self, request, context: grpc.aio.ServicerContext):
        authenticate(context, self.secrets)
        if request.service_date:
            _date(request.service_date, "service_date")
        row = await _participant(self.pool, noka=request.noka, nik=request.nik)
        response = partner_pb2.CheckEligibilityResponse(
            eligible=row["status"] == "AKTIF",
            status=membership_pb2.ParticipantStatus.Value(f"PARTICIPANT_STATUS_{row['status']}"),
            status_reason=membership_pb2.StatusReason.Value(f"STATUS_REASON_{row['status_reason'] or 'UNSPECIFIED'}"),
            segment=membership_pb2.Segment.Value(f"SEGMENT_{row['segment']}"), fktp_code=row["fktp_code"],
            name=row["name"])
        setattr(response, "class", row["care_class"])  # noqa: B010 - `class` is a keyword in Python
        return response

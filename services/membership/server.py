"""Membership's gRPC servicers (internal and partner): translation only — a request becomes one
call of a use case (`participants`, `enrolments`, `fktp_changes`, `billing`, `eligibility`) and
its answer a reply (`views`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc, partner_pb2, partner_pb2_grpc
from jkn.notify.v1 import notify_pb2_grpc
from jkn.queue.v1 import queue_pb2_grpc
from services.contracts import otp
from services.kit.partner_auth import PartnerSecrets, authenticate
from services.kit.signing import SigningKey, jwks_message_fields
from services.membership import billing, eligibility, enrolments, fktp_changes, participants, views
from services.membership.stamps import Stamps


class MembershipServicer(membership_pb2_grpc.MembershipServiceServicer):
    """Participants, families, cards, bills, FKTP changes, enrolment (for the gateway and auth)."""

    def __init__(self, *, pool: asyncpg.Pool, today: Callable[[], date], payment_secret: str,
                 card_keys: list[SigningKey], card_validity: timedelta, queue: queue_pb2_grpc.QueueServiceStub,
                 notify: notify_pb2_grpc.NotifyServiceStub, captcha_on: bool, stamps: Stamps) -> None:
        self.pool, self.today, self.payment_secret, self.captcha_on = pool, today, payment_secret, captcha_on
        self.stamps = stamps
        self.card_keys, self.card_validity, self.queue, self.notify = card_keys, card_validity, queue, notify

    async def StartEnrollment(self, request: membership_pb2.StartEnrollmentRequest,
                              context: grpc.aio.ServicerContext) -> membership_pb2.StartEnrollmentResponse:
        started = await enrolments.start(self.pool, notify=self.notify, queue=self.queue,
                                         application=views.application(request), captcha_on=self.captcha_on,
                                         captcha_passed=request.captcha_passed, client_ip=request.client.client_ip,
                                         language=request.client.language, today=self.today())
        return membership_pb2.StartEnrollmentResponse(enrollment_id=str(started.enrollment_id),
                                                      otp=otp.challenge(started.verification))

    async def CompleteEnrollment(self, request: membership_pb2.CompleteEnrollmentRequest,
                                 context: grpc.aio.ServicerContext) -> membership_pb2.CompleteEnrollmentResponse:
        enrolled = await enrolments.complete(self.pool, notify=self.notify, enrollment_id=request.enrollment_id,
                                             code=request.code, today=self.today())
        return membership_pb2.CompleteEnrollmentResponse(
            participants=[views.participant(m) for m in enrolled.members], payment=views.payment(enrolled.payment))

    async def RequestFktpChange(self, request: membership_pb2.RequestFktpChangeRequest,
                                context: grpc.aio.ServicerContext) -> membership_pb2.RequestFktpChangeResponse:
        requested = await fktp_changes.request(self.pool, queue=self.queue, noka=request.noka,
                                               facility_code=request.facility_code, today=self.today(),
                                               stamps=self.stamps)
        return membership_pb2.RequestFktpChangeResponse(change=views.fktp_change(
            code=requested.facility.code, name=requested.facility.name, effective_date=requested.effective_date))

    async def GetCard(self, request: membership_pb2.GetCardRequest,
                      context: grpc.aio.ServicerContext) -> membership_pb2.GetCardResponse:
        issued = await participants.issue_card(self.pool, noka=request.noka, key=self.card_keys[0],
                                               validity=self.card_validity, now=datetime.now(UTC))
        return membership_pb2.GetCardResponse(card=views.card(issued.participant, token=issued.token,
                                                              key_id=issued.key_id,
                                                              expires_at_s=issued.expires_at_s))

    async def GetCardKeys(self, request: membership_pb2.GetCardKeysRequest,
                          context: grpc.aio.ServicerContext) -> membership_pb2.GetCardKeysResponse:
        return membership_pb2.GetCardKeysResponse(max_age_s=3600, **jwks_message_fields(self.card_keys))

    async def MatchIdentity(self, request: membership_pb2.MatchIdentityRequest,
                            context: grpc.aio.ServicerContext) -> membership_pb2.MatchIdentityResponse:
        row = await participants.match_identity(self.pool, identifier=request.identifier,
                                                birth_date=request.birth_date)
        if row is None:
            return membership_pb2.MatchIdentityResponse(matched=False)
        return membership_pb2.MatchIdentityResponse(matched=True, participant_id=str(row["id"]), noka=row["noka"],
                                                    nik=row["nik"])

    async def GetParticipant(self, request: membership_pb2.GetParticipantRequest,
                             context: grpc.aio.ServicerContext) -> membership_pb2.GetParticipantResponse:
        row, pending = await participants.with_pending_change(self.pool, noka=request.noka, nik=request.nik,
                                                              participant_id=request.participant_id)
        return membership_pb2.GetParticipantResponse(participant=views.participant(row, pending))

    async def GetMembership(self, request: membership_pb2.GetMembershipRequest,
                            context: grpc.aio.ServicerContext) -> membership_pb2.GetMembershipResponse:
        family = await participants.family(self.pool, noka=request.noka)
        return membership_pb2.GetMembershipResponse(
            participant=views.participant(family.participant, family.pending_change_of(family.participant)),
            family=[views.participant(m, family.pending_change_of(m)) for m in family.members],
            all_family_active=family.all_active)

    async def ListBills(self, request: membership_pb2.ListBillsRequest,
                        context: grpc.aio.ServicerContext) -> membership_pb2.ListBillsResponse:
        owed = await billing.bills(self.pool, noka=request.noka, today=self.today())
        return membership_pb2.ListBillsResponse(arrears_total_idr=owed.arrears_total_idr,
                                                bills=[views.bill(b) for b in owed.bills])

    async def CreatePayment(self, request: membership_pb2.CreatePaymentRequest,
                            context: grpc.aio.ServicerContext) -> membership_pb2.CreatePaymentResponse:
        payment = await billing.create_payment(self.pool, noka=request.noka, periods=list(request.periods))
        return membership_pb2.CreatePaymentResponse(payment=views.payment(payment))

    async def HandlePaymentCallback(self, request: membership_pb2.HandlePaymentCallbackRequest,
                                    context: grpc.aio.ServicerContext) -> membership_pb2.HandlePaymentCallbackResponse:
        settled = await billing.settle(self.pool, secret=self.payment_secret, raw_body=request.raw_body,
                                       signature=request.signature, today=self.today(), stamps=self.stamps)
        return membership_pb2.HandlePaymentCallbackResponse(
            payment_id=settled.payment_id, status=membership_pb2.PAYMENT_STATUS_PAID, replayed=settled.replayed)


class PartnerMembershipServicer(partner_pb2_grpc.PartnerMembershipServiceServicer):
    """Eligibility checks for partner hospitals and clinics (HMAC-signed per facility)."""

    def __init__(self, *, pool: asyncpg.Pool, secrets: PartnerSecrets) -> None:
        self.pool, self.secrets = pool, secrets

    async def CheckEligibility(self, request: partner_pb2.CheckEligibilityRequest,
                               context: grpc.aio.ServicerContext) -> partner_pb2.CheckEligibilityResponse:
        authenticate(context, self.secrets)
        checked = await eligibility.check(self.pool, noka=request.noka, nik=request.nik,
                                          service_date=request.service_date)
        return views.eligibility(checked.participant, eligible=checked.eligible)

"""Membership's gRPC servicers (internal and partner). RPCs arrive with issue 4; until
then the generated base classes answer UNIMPLEMENTED."""

from __future__ import annotations

from jkn.membership.v1 import membership_pb2_grpc, partner_pb2_grpc


class MembershipServicer(membership_pb2_grpc.MembershipServiceServicer):
    """Participants, families, cards, bills, FKTP changes, enrolment (for the gateway and auth)."""


class PartnerMembershipServicer(partner_pb2_grpc.PartnerMembershipServiceServicer):
    """Eligibility checks for partner hospitals and clinics."""

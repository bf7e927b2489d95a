"""Assembles the membership service: database, outbox relay, demo data, servicers."""

from __future__ import annotations

from pathlib import Path

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc, partner_pb2, partner_pb2_grpc
from services.kit.grpc_server import Servicer
from services.kit.runtime import Runtime
from services.kit.seed import seed_once
from services.membership.seed import seed_demo
from services.membership.server import MembershipServicer, PartnerMembershipServicer

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    pool = await runtime.database(MIGRATIONS)
    if settings.seed_demo_data:
        await seed_once(pool, service="membership", today=settings.demo_today, seed=seed_demo)
    runtime.relay_outbox(pool)
    return [
        Servicer(MembershipServicer(), membership_pb2_grpc.add_MembershipServiceServicer_to_server,
                 membership_pb2.DESCRIPTOR.services_by_name["MembershipService"].full_name),
        Servicer(PartnerMembershipServicer(), partner_pb2_grpc.add_PartnerMembershipServiceServicer_to_server,
                 partner_pb2.DESCRIPTOR.services_by_name["PartnerMembershipService"].full_name),
    ]

"""Queue with real membership behind it (demo data of CONTRACT.md §6), over gRPC on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import grpc
import pytest_asyncio

from jkn.queue.v1 import partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.clock import jakarta_now
from services.kit.errors import RemoteError, decode_rpc_error
from services.kit.partner_auth import signed_metadata
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue import rules
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests import factories

BUDI, SRI, ANDI = factories.BUDI.noka, factories.SRI.noka, factories.ANDI.noka
SITI, AGUS, DEWI, RUDI = factories.SITI.noka, factories.AGUS.noka, factories.DEWI.noka, factories.RUDI.noka
DAY_S = 86_400


def today() -> date:
    return jakarta_now().date()


def visit_moment() -> datetime:
    """A moment of tomorrow (the visit date) that the "tomorrow" service already sees as past:
    an hour before its clock, but never before the visit date began. Tests add at most a few
    minutes to it (facilities may not report times later than now + 5 min)."""
    later_now = jakarta_now(DAY_S)
    return max(rules.at_jakarta(later_now.date(), time(0, 0, 1)), later_now - timedelta(hours=1))


@dataclass
class QueueWorld:
    queue: queue_pb2_grpc.QueueServiceStub
    partner: partner_pb2_grpc.PartnerQueueServiceStub
    #: The same queue service (same database) whose clock runs one day ahead: "tomorrow".
    tomorrow_partner: partner_pb2_grpc.PartnerQueueServiceStub
    tomorrow_queue: queue_pb2_grpc.QueueServiceStub
    queue_dsn: str
    membership_dsn: str
    kafka_bootstrap: str

    caller = staticmethod(factories.caller)

    async def schedule_id(self, facility: str, poli: str, day: date) -> str:
        return await factories.schedule_id(self.queue, facility=facility, poli=poli, day=day)

    async def book(self, noka: str, facility: str, poli: str, day: date, **fields) -> queue_pb2.CreateBookingResponse:
        return await factories.book(self.queue, noka=noka, facility=facility, poli=poli, day=day,
                                    booked_by=fields.pop("caller", None), schedule=fields.pop("schedule_id", None),
                                    **fields)


def signed(facility: str, secret: str | None = None) -> tuple[tuple[str, str], ...]:
    return signed_metadata(secret or f"dev-secret-{facility}", facility)


async def refused(call) -> RemoteError:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return decode_rpc_error(error)
    raise AssertionError("the call was expected to fail")


@pytest_asyncio.fixture
async def world(service) -> AsyncIterator[QueueWorld]:
    demo_day = today()
    async with AsyncExitStack() as stack:
        enter = stack.enter_async_context
        membership = await enter(service(MembershipSettings, build_membership, seed_demo_data=True,
                                         demo_today=demo_day))
        queue = await enter(service(QueueSettings, build_queue, seed_demo_data=True, demo_today=demo_day,
                                    membership_addr=membership.address))
        later = await enter(service(QueueSettings, build_queue, membership_addr=membership.address,
                                    database_url=queue.settings.database_url, clock_offset_s=DAY_S))
        channel = await enter(grpc.aio.insecure_channel(queue.address))
        later_channel = await enter(grpc.aio.insecure_channel(later.address))
        yield QueueWorld(queue_pb2_grpc.QueueServiceStub(channel), partner_pb2_grpc.PartnerQueueServiceStub(channel),
                         partner_pb2_grpc.PartnerQueueServiceStub(later_channel),
                         queue_pb2_grpc.QueueServiceStub(later_channel), queue.settings.database_url,
                         membership.settings.database_url, queue.settings.kafka_bootstrap)


async def active_participants_of(membership_dsn: str, fktp: str, count: int) -> list[str]:
    """``count`` AKTIF participants registered at ``fktp`` (`factories.participants`)."""
    return await factories.participants(membership_dsn, fktp=fktp, count=count)


def epoch_ms(at: datetime) -> int:
    """Partner APIs take instants as Unix epoch milliseconds."""
    return int(at.timestamp() * 1000)


TOMORROW = timedelta(days=1)

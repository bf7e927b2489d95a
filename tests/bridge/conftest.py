"""The bridge in front of real queue and membership servers (demo data of CONTRACT.md §6), on a
real HTTP port, driven by an unmodified public BPJS client (`bpjs-bridging` from PyPI, the
library SIMRS integrations use: it signs, sends, decrypts and decompresses).

Queue's clock runs at 10:00 Jakarta of tomorrow ("the visit day"), so a desk booking for that
day finds its sessions open (INT 08:00–12:00) and task times of that morning are in the past,
whatever the time of day the tests run; the bridge and membership keep the real clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import grpc
import pytest_asyncio
import uvicorn
from bpjs import Bridging

from jkn.queue.v1 import partner_pb2_grpc, queue_pb2_grpc
from services.bridge.app import create_app
from services.bridge.settings import BridgeSettings
from services.devstack.infra import free_port
from services.kit.clock import JAKARTA, jakarta_now, jakarta_today
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests import factories

HOSPITAL, CLINIC = "0114R001", "0114U001"
#: Demo referrals (CONTRACT.md §6) to the hospital, issued 10 days ago.
BUDI_INT, BUDI_MAT, ANDI_ANA = "0114U0011126Y000001", "0114U0011126Y000002", "0114U0011126Y000003"


def visit_day() -> date:
    """Queue's today: tomorrow."""
    return jakarta_today() + timedelta(days=1)


def at_visit(hour: int, minute: int = 0) -> int:
    """An instant of the visit day's morning, Unix epoch milliseconds (as SIMRS send times)."""
    return int(datetime.combine(visit_day(), time(hour, minute), JAKARTA).timestamp() * 1000)


@dataclass
class BridgeWorld:
    url: str
    queue: queue_pb2_grpc.QueueServiceStub
    partner: partner_pb2_grpc.PartnerQueueServiceStub
    membership_dsn: str

    def client(self, facility: str = HOSPITAL, service: str = "antrean", *, secret: str | None = None,
               user_key: str = "any-user-key") -> Bridging:
        prefix = "antreanrs" if service == "antrean" else "vclaim-rest"
        return Bridging({"consid": facility, "secret": secret or f"dev-secret-{facility}", "user_key": user_key,
                         "host": f"{self.url}/{prefix}"}, service)

    async def get(self, endpoint: str, facility: str = HOSPITAL, service: str = "antrean", **kw: Any) -> dict:
        return await asyncio.to_thread(self.client(facility, service, **kw).request, endpoint)

    async def post(self, endpoint: str, payload: dict, facility: str = HOSPITAL, **kw: Any) -> dict:
        return await asyncio.to_thread(self.client(facility, **kw).request, endpoint, "POST", payload)


def code_of(answer: dict) -> int:
    """The metadata code, whichever dialect (Antrean's number, VClaim's string)."""
    return int(answer["metaData"]["code"])


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture
async def world(service) -> AsyncIterator[BridgeWorld]:
    demo_day = jakarta_today()
    offset_s = (datetime.combine(visit_day(), time(10, 0), JAKARTA) - jakarta_now()).total_seconds()
    async with AsyncExitStack() as stack:
        enter = stack.enter_async_context
        membership = await enter(service(MembershipSettings, build_membership, seed_demo_data=True,
                                         demo_today=demo_day))
        queue = await enter(service(QueueSettings, build_queue, seed_demo_data=True, demo_today=demo_day,
                                    membership_addr=membership.address, clock_offset_s=offset_s))
        port = free_port()
        app = create_app(BridgeSettings(env="test", port=port, queue_addr=queue.address,
                                        membership_addr=membership.address, rpc_timeout_s=3))
        await enter(serving(app, port))
        channel = await enter(grpc.aio.insecure_channel(queue.address))
        yield BridgeWorld(f"http://127.0.0.1:{port}", queue_pb2_grpc.QueueServiceStub(channel),
                          partner_pb2_grpc.PartnerQueueServiceStub(channel), membership.settings.database_url)


__all__ = ["ANDI_ANA", "BUDI_INT", "BUDI_MAT", "CLINIC", "HOSPITAL", "BridgeWorld", "at_visit", "code_of",
           "factories", "visit_day"]

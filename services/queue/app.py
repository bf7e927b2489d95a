"""Assembles the queue service: database, outbox relay, demo data, servicers."""

from __future__ import annotations

from pathlib import Path

from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.grpc_server import Servicer
from services.kit.runtime import Runtime
from services.kit.seed import seed_once
from services.queue.seed import seed_demo
from services.queue.server import PartnerQueueServicer, QueueServicer

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    pool = await runtime.database(MIGRATIONS)
    if settings.seed_demo_data:
        await seed_once(pool, service="queue", today=settings.demo_today, seed=seed_demo)
    runtime.relay_outbox(pool)
    return [
        Servicer(QueueServicer(pool=pool), queue_pb2_grpc.add_QueueServiceServicer_to_server,
                 queue_pb2.DESCRIPTOR.services_by_name["QueueService"].full_name),
        Servicer(PartnerQueueServicer(), partner_pb2_grpc.add_PartnerQueueServiceServicer_to_server,
                 partner_pb2.DESCRIPTOR.services_by_name["PartnerQueueService"].full_name),
    ]

"""Assembles the queue service: database, outbox relay, demo data, periodic jobs, servicers."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.clock import jakarta_now
from services.kit.grpc_server import Servicer
from services.kit.jobs import run_periodically
from services.kit.partner_auth import PartnerSecrets
from services.kit.runtime import Runtime
from services.queue import jobs
from services.queue.seats import Lanes
from services.queue.seed import seed_demo
from services.queue.server import PartnerQueueServicer, QueueServicer
from services.queue.settings import QueueSettings
from services.queue.waitlist import Handoff

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    assert isinstance(settings, QueueSettings)
    pool = await runtime.database(MIGRATIONS, demo_data=seed_demo)
    runtime.relay_outbox(pool)
    now = partial(jakarta_now, settings.clock_offset_s)
    membership = membership_pb2_grpc.MembershipServiceStub(runtime.channel(
        settings.membership_addr, membership_pb2.DESCRIPTOR.services_by_name["MembershipService"]))
    handoff = Handoff(membership, hold_s=settings.waitlist_hold_s)
    runtime.background(run_periodically((jobs.mark_no_shows, jobs.send_reminders, *jobs.waitlist_jobs(handoff)),
                                        pool, now, every_s=settings.jobs_every_s), "queue-jobs")
    lanes = Lanes(pool, membership, wait_s=settings.booking_batch_wait_ms / 1000,
                  max_batch=settings.booking_batch_max)
    secrets = PartnerSecrets(settings.partner_secrets.get_secret_value(), dev_fallback=not settings.is_prod)
    return [
        Servicer(QueueServicer(pool=pool, lanes=lanes, handoff=handoff, now=now),
                 queue_pb2_grpc.add_QueueServiceServicer_to_server,
                 queue_pb2.DESCRIPTOR.services_by_name["QueueService"].full_name),
        Servicer(PartnerQueueServicer(pool=pool, membership=membership, handoff=handoff, secrets=secrets, now=now),
                 partner_pb2_grpc.add_PartnerQueueServiceServicer_to_server,
                 partner_pb2.DESCRIPTOR.services_by_name["PartnerQueueService"].full_name),
    ]

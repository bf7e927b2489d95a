"""Assembles the membership service: database, outbox relay, demo data, servicers."""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc, partner_pb2, partner_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.kit.clock import jakarta_today
from services.kit.grpc_server import Servicer
from services.kit.jobs import run_periodically
from services.kit.partner_auth import PartnerSecrets
from services.kit.runtime import Runtime
from services.kit.signing import load_signing_keys
from services.membership import jobs
from services.membership.seed import seed_demo
from services.membership.server import MembershipServicer, PartnerMembershipServicer
from services.membership.settings import MembershipSettings
from services.membership.stamps import Stamps

MIGRATIONS = Path(__file__).parent / "migrations"


def with_stamps(job, stamps: Stamps):
    """``job(pool, today)`` expiring the stamps of what it changed (keeps the job's name for its span)."""
    return functools.update_wrapper(functools.partial(job, stamps=stamps), job)


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    assert isinstance(settings, MembershipSettings)
    pool = await runtime.database(MIGRATIONS, demo_data=seed_demo)
    runtime.relay_outbox(pool)
    queue = queue_pb2_grpc.QueueServiceStub(
        runtime.channel(settings.queue_addr, queue_pb2.DESCRIPTOR.services_by_name["QueueService"]))
    notify = notify_pb2_grpc.NotifyServiceStub(
        runtime.channel(settings.notify_addr, notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]))
    stamps = Stamps(await runtime.redis())
    periodic = [with_stamps(job, stamps) for job in (jobs.apply_fktp_changes, jobs.roll_bills)]
    runtime.background(run_periodically(periodic, pool, jakarta_today, every_s=3600), "fktp-changes")
    secrets = PartnerSecrets(settings.partner_secrets.get_secret_value(), dev_fallback=not settings.is_prod)
    return [
        Servicer(MembershipServicer(pool=pool, today=jakarta_today,
                                    payment_secret=settings.payment_webhook_secret.get_secret_value(),
                                    card_keys=load_signing_keys(settings.card_signing_keys.get_secret_value(),
                                                                setting="JKN_MEMBERSHIP_CARD_SIGNING_KEYS",
                                                                allow_derived=not settings.is_prod),
                                    card_validity=timedelta(days=settings.card_validity_days), queue=queue,
                                    notify=notify, captcha_on=settings.captcha == "on", stamps=stamps),
                 membership_pb2_grpc.add_MembershipServiceServicer_to_server,
                 membership_pb2.DESCRIPTOR.services_by_name["MembershipService"].full_name),
        Servicer(PartnerMembershipServicer(pool=pool, secrets=secrets),
                 partner_pb2_grpc.add_PartnerMembershipServiceServicer_to_server,
                 partner_pb2.DESCRIPTOR.services_by_name["PartnerMembershipService"].full_name),
    ]

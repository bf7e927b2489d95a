"""Assembles the auth service: database, Redis, peers (membership, notify), servicer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.auth import recoveries
from services.auth.deps import Deps
from services.auth.notifications import on_membership_event, on_queue_event
from services.auth.passwords import Hasher
from services.auth.seed import seeder
from services.auth.server import AuthServicer
from services.auth.settings import AuthSettings
from services.kit.consumer import IdempotentConsumer
from services.kit.grpc_server import Servicer
from services.kit.jobs import run_periodically
from services.kit.kafka import MEMBERSHIP_EVENTS, QUEUE_EVENTS
from services.kit.runtime import Runtime
from services.kit.signing import load_signing_keys

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    assert isinstance(settings, AuthSettings)
    hasher = Hasher(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost,
                    parallelism=settings.argon2_parallelism)
    pool = await runtime.database(MIGRATIONS, demo_data=seeder(hasher))
    redis = await runtime.redis()
    runtime.relay_outbox(pool)
    runtime.background(IdempotentConsumer(
        pool=pool, bootstrap=settings.kafka_bootstrap, topic=MEMBERSHIP_EVENTS, group="auth-notifications",
        handler=on_membership_event).run(), "membership-events")
    runtime.background(IdempotentConsumer(
        pool=pool, bootstrap=settings.kafka_bootstrap, topic=QUEUE_EVENTS, group="auth-queue-notifications",
        handler=on_queue_event).run(), "queue-events")
    membership = membership_pb2_grpc.MembershipServiceStub(runtime.channel(
        settings.membership_addr, membership_pb2.DESCRIPTOR.services_by_name["MembershipService"]))
    notify = notify_pb2_grpc.NotifyServiceStub(runtime.channel(
        settings.notify_addr, notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]))
    signing_keys = load_signing_keys(settings.jwt_private_keys.get_secret_value(), setting="JKN_AUTH_JWT_PRIVATE_KEYS",
                                     allow_derived=not settings.is_prod)
    deps = Deps.assemble(pool=pool, redis=redis, hasher=hasher, membership=membership, notify=notify,
                         signing_keys=signing_keys, captcha_on=settings.captcha == "on",
                         recovery_delay_s=settings.recovery_delay_s)
    runtime.background(run_periodically([recoveries.apply_due(deps)], pool, lambda: datetime.now(UTC),
                                        every_s=settings.jobs_every_s), "auth-jobs")
    servicer = AuthServicer(deps, jwks_max_age_s=settings.jwks_max_age_s)
    return [Servicer(servicer, auth_pb2_grpc.add_AuthServiceServicer_to_server,
                     auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name)]

"""Every service starts the same way: migrations, demo data once, health, reflection."""

from __future__ import annotations

import sys

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.kit.runtime import run_service
from services.kit.startup import StartupError
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings

SERVICES = {
    "auth": (AuthSettings, build_auth, {"jkn.auth.v1.AuthService"}),
    "notify": (NotifySettings, build_notify, {"jkn.notify.v1.NotifyService"}),
    "membership": (MembershipSettings, build_membership,
                   {"jkn.membership.v1.MembershipService", "jkn.membership.v1.PartnerMembershipService"}),
    "queue": (QueueSettings, build_queue, {"jkn.queue.v1.QueueService", "jkn.queue.v1.PartnerQueueService"}),
}


def head_revision(build) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(sys.modules[build.__module__].MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


async def listed_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    async for reply in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])):
        return {s.name for s in reply.list_services_response.service}
    return set()


@pytest.mark.parametrize("name", list(SERVICES))
async def test_service_starts_migrated_healthy_and_reflectable(service, name):
    settings_class, build, expected = SERVICES[name]
    async with service(settings_class, build) as running:
        async with grpc.aio.insecure_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service_name in ["", *expected]:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=service_name), timeout=2)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            assert expected | {"grpc.health.v1.Health"} <= await listed_services(channel)
        conn = await asyncpg.connect(running.settings.database_url)
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision(build)
        finally:
            await conn.close()
        assert running.metrics_port


async def test_restart_on_the_same_database_migrates_and_seeds_only_once(service, fresh_database):
    dsn = fresh_database("membership")
    for _ in range(2):
        async with service(MembershipSettings, build_membership, database_url=dsn, seed_demo_data=True):
            pass
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM demo_seed WHERE service = 'membership'") == 1
    finally:
        await conn.close()


async def test_unreachable_database_is_one_clear_line(redis_url):
    settings = NotifySettings(env="test", grpc_port=0, metrics_port=0,
                              database_url="postgresql://postgres@127.0.0.1:1/jkn_notify")
    with pytest.raises(StartupError) as caught:
        async with run_service(settings, build_notify):
            pass
    message = str(caught.value)
    assert message.startswith("cannot reach Postgres at 127.0.0.1:1/jkn_notify")
    assert "\n" not in message

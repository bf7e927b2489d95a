"""Assembles the notify service: its database, its servicer."""

from __future__ import annotations

from pathlib import Path

from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.grpc_server import Servicer
from services.kit.runtime import Runtime
from services.notify.server import NotifyServicer
from services.notify.settings import NotifySettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    pool = await runtime.database(MIGRATIONS)
    servicer = NotifyServicer(pool=pool, dev_outbox_enabled=not settings.is_prod)
    return [Servicer(servicer, notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                     notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name)]

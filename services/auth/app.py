"""Assembles the auth service: its database (with the outbox relay) and its servicer."""

from __future__ import annotations

from pathlib import Path

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth.server import AuthServicer
from services.auth.settings import AuthSettings
from services.kit.grpc_server import Servicer
from services.kit.runtime import Runtime
from services.kit.signing import load_signing_keys

MIGRATIONS = Path(__file__).parent / "migrations"


async def build(runtime: Runtime) -> list[Servicer]:
    settings = runtime.settings
    assert isinstance(settings, AuthSettings)
    pool = await runtime.database(MIGRATIONS)
    runtime.relay_outbox(pool)
    servicer = AuthServicer(signing_keys=load_signing_keys(settings.jwt_private_keys.get_secret_value()),
                            jwks_max_age_s=settings.jwks_max_age_s)
    return [Servicer(servicer, auth_pb2_grpc.add_AuthServiceServicer_to_server,
                     auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name)]

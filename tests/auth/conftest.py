"""Auth test helpers: the gateway fixtures (for the tests that go through the edge), a refusal's
wire form, the demo accounts' ids in a running auth."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc

from services.kit.errors import decode_rpc_error
from tests.gateway.conftest import gateway_client, platform  # noqa: F401


@dataclass(frozen=True)
class Answer:
    """How a call ended, as the caller sees it on the wire: ``ok``, or the refusal's code, its
    fields, and the exact status (code, message, details bytes)."""

    code: str
    fields: dict[str, Any]
    wire: tuple[Any, ...] = ()


async def answer(call: Awaitable[Any]) -> Answer:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        refusal = decode_rpc_error(error)
        details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
        return Answer(refusal.code, refusal.fields, (error.code(), error.details(), details))
    return Answer("ok", {})


async def sql(dsn: str, statement: str, *args: Any) -> Any:
    """One statement against a running service's own database (the test's way to set the scene)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def account_id(dsn: str, noka: str) -> str:
    return str(await sql(dsn, "SELECT id FROM accounts WHERE noka = $1", noka))

"""The gateway app in-process (lifespan included) in front of real services on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest_asyncio
from fastapi import FastAPI

from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.devstack.infra import free_port
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.notify.app import build as build_notify
from services.notify.settings import NotifySettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings

BUILDS = {"auth": (AuthSettings, build_auth), "notify": (NotifySettings, build_notify),
          "membership": (MembershipSettings, build_membership), "queue": (QueueSettings, build_queue)}


@pytest_asyncio.fixture
async def platform(service) -> AsyncIterator[dict]:
    """All four services running; yields their RunningService by name."""
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(service(settings, build))
               for name, (settings, build) in BUILDS.items()}


@pytest_asyncio.fixture
async def gateway_client(redis_url) -> AsyncIterator[Callable]:
    """``async with gateway_client(addresses, **settings) as (app, client)``."""

    @asynccontextmanager
    async def open_client(addresses: dict[str, str], **overrides) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        addr = {f"{name}_addr": addresses.get(name, f"127.0.0.1:{free_port()}") for name in BUILDS}
        # The per-IP allowance is for the tests that measure it (they set their own): every test
        # client comes from 127.0.0.1 and the Redis is shared, so the default would count them all.
        app = create_app(GatewaySettings(**{"env": "test", **addr, "rpc_timeout_s": 2, "redis_url": redis_url,
                                            "auth_rate_per_min": 100_000, **overrides}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield app, client

    yield open_client

"""The edge: FastAPI app for the mobile and web clients (CONTRACT.md §1–§4).

It holds no business rules: it validates input, verifies access tokens locally, calls the
services over gRPC and maps their status codes to RFC 9457 problems.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import grpc
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from services.gateway import docs, portal, problems, responses
from services.gateway.edge import EdgeMiddleware
from services.gateway.middleware import ObservabilityMiddleware
from services.gateway.routes import accounts, bookings, dev, enrollments, health, me, public, recoveries, waitlist
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from services.kit.errors import DomainError, RemoteError
from services.kit.telemetry import flush_tracing, setup_tracing

DESCRIPTION = """
REST API of the JKN mobile platform: account activation and login, membership and family
status, digital card, premiums, FKTP changes and online queue bookings.

Errors are RFC 9457 `application/problem+json` with a machine-readable `code`; titles and
details follow `Accept-Language` (`id` by default, `en`).
"""


NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


class Gateway(FastAPI):
    """FastAPI with the edge (`edge.EdgeMiddleware`: security headers, body cap) around the whole
    middleware stack — Starlette's error middleware included, so a 500 has the headers too — and
    an OpenAPI document whose every route lists its problem responses (`responses`)."""

    def __init__(self, *, max_body_bytes: int, **kwargs: Any):
        self.max_body_bytes = max_body_bytes
        self._documented: dict[str, Any] | None = None
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return EdgeMiddleware(super().build_middleware_stack(), max_body_bytes=self.max_body_bytes)

    def openapi(self) -> dict[str, Any]:
        document = super().openapi()  # FastAPI's, made again only when the routes changed
        if document is not self._documented:
            self._documented = responses.document(self.routes, document)
        return document


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    setup_tracing("gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(flush_tracing)  # the last requests' spans leave before the process does
            app.state.gateway = await GatewayState.open(settings, stack)
            gc.freeze()  # what start-up made lives as long as the process: out of every full collection
            yield

    # FastAPI's own telemetry stays off: it records raw paths and query strings (personal data)
    # and logs exception messages; `ObservabilityMiddleware` makes the request's span instead.
    # /docs is `docs.router` (Swagger UI served from local files, no inline script).
    app = Gateway(title="JKN Mobile API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json", telemetry=NO_NATIVE_TELEMETRY,
                  max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(RemoteError, problems.remote_error_handler)
    app.add_exception_handler(grpc.aio.AioRpcError, problems.remote_error_handler)
    app.add_exception_handler(DomainError, problems.domain_error_handler)
    app.add_exception_handler(RequestValidationError, problems.validation_error_handler)
    app.add_exception_handler(HTTPException, problems.http_error_handler)
    # A Redis that fails is answered here (503) rather than by the catch-all, which Starlette
    # re-raises to the server after answering (a stack trace in the logs for an expected outage).
    app.add_exception_handler(RedisError, problems.unexpected_error_handler)
    app.add_exception_handler(Exception, problems.unexpected_error_handler)
    # Routes are matched in this order: the busiest first (no two routers' paths overlap).
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(bookings.router)
    app.include_router(waitlist.router)
    app.include_router(public.router)
    app.include_router(accounts.router)
    app.include_router(accounts.polls)  # outside the account routes' per-IP limit
    app.include_router(enrollments.router)
    app.include_router(recoveries.router)
    app.include_router(docs.router)
    app.include_router(portal.router)  # the web portal at / (CONTRACT.md §9)
    if not settings.is_prod:
        app.include_router(dev.router)
    app.add_middleware(ObservabilityMiddleware)  # the request's span, metrics and access log
    return app

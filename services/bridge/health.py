"""Liveness, readiness and metrics of the bridge (like the gateway's, CONTRACT.md §1)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.bridge.state import BridgeState

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 only when queue and membership answer their gRPC health checks."""
    state: BridgeState = request.app.state.bridge

    async def check(name: str) -> tuple[str, str]:
        try:
            reply = await state.health[name].Check(health_pb2.HealthCheckRequest(service=""),
                                                   timeout=state.settings.readiness_timeout_s)
            return name, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return name, "UNAVAILABLE"

    checks = dict(await asyncio.gather(*(check(name) for name in state.health)))
    ready = all(status == "SERVING" for status in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready
                        else 503)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

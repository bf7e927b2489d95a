"""Liveness, readiness and metrics (CONTRACT.md §1)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Response
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from services.gateway.deps import State

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="service → SERVING, NOT_SERVING, UNAVAILABLE, ...")


#: Probed every few seconds by every load balancer and kubelet: the answer is made once.
_ALIVE = Liveness(status="ok").model_dump_json().encode()


@router.get("/healthz", response_model=Liveness, summary="200 while the gateway process lives")
async def healthz() -> Response:
    return Response(_ALIVE, media_type="application/json")


@router.get("/readyz", summary="200 only when every backing service answers its gRPC health check",
            responses={503: {"model": Readiness, "description": "at least one service is not serving"}})
async def readyz(state: State, response: Response) -> Readiness:
    async def check(name: str) -> tuple[str, str]:
        try:
            reply = await state.health[name].Check(health_pb2.HealthCheckRequest(service=""),
                                                   timeout=state.settings.readiness_timeout_s)
            return name, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return name, "UNAVAILABLE"

    checks = dict(await asyncio.gather(*(check(name) for name in state.health)))
    ready = all(status == "SERVING" for status in checks.values())
    if not ready:
        response.status_code = 503
    return Readiness(status="ready" if ready else "not_ready", checks=checks)


@router.get("/metrics", summary="Prometheus metrics of the gateway", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

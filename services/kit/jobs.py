"""Periodic work of a service: each job at start and then every ``every_s``, in its own trace;
a failing job is logged and tried again next round (jobs are idempotent and safe on many
replicas: they rely on conflicts, row locks and SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from opentelemetry import trace

from services.kit.logs import get_logger

log = get_logger("jkn.jobs")
tracer = trace.get_tracer("jkn.jobs")

Job = Callable[[asyncpg.Pool, Any], Awaitable[object]]


async def run_periodically(jobs: Sequence[Job], pool: asyncpg.Pool, clock: Callable[[], Any], *,
                           every_s: float) -> None:
    """Run ``job(pool, clock())`` for each job, at start and then every ``every_s``, until cancelled."""
    while True:
        for job in jobs:
            try:
                with tracer.start_as_current_span(f"{job.__name__} run", attributes={"jkn.job": job.__name__}):
                    await job(pool, clock())
            except Exception as error:  # noqa: BLE001 - the next round tries again
                log.warning("job_failed", extra={"job": job.__name__, "error": type(error).__name__})
        await asyncio.sleep(every_s)

"""The life of a service process: build, serve, stop — the same for every service.

A service's ``__main__`` is one line, ``main(Settings, build)``; ``build(runtime)`` opens
what the service needs through the `Runtime` (database with migrations, Redis, peer
channels, outbox relay, background consumers) and returns the servicers to host.
`run_service` is the same life as an async context manager, which is how tests run a
service in-process on port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from google.protobuf.descriptor import ServiceDescriptor
from pydantic import ValidationError
from redis.asyncio import Redis

from services.kit import db, kafka
from services.kit.channels import open_channel
from services.kit.grpc_server import GrpcServer, Servicer
from services.kit.logs import configure_logging, get_logger
from services.kit.metrics import serve_metrics
from services.kit.outbox import OutboxRelay
from services.kit.redis import check_redis, open_redis
from services.kit.seed import SeedFunction, seed_once
from services.kit.settings import ServiceSettings
from services.kit.settings import load as load_settings
from services.kit.startup import StartupError, configuration_error
from services.kit.telemetry import setup_tracing, shutdown_tracing

log = get_logger("jkn.runtime")


@dataclass
class Runtime:
    """What a service opens at start, all closed again (in reverse) at stop."""

    settings: ServiceSettings
    stack: AsyncExitStack

    async def database(self, migrations: Path, *, demo_data: SeedFunction | None = None) -> asyncpg.Pool:
        """The service's own database, migrated to the newest revision; with ``demo_data`` and
        ``seed_demo_data`` set, seeded once (`kit.seed`)."""
        settings = self.settings
        pool = await db.connect_pool(settings.database_dsn, min_size=settings.db_pool_min,
                                     max_size=settings.db_pool_max)
        self.stack.push_async_callback(db.close_pool, pool)
        if settings.migrate_on_start:
            await db.migrate(settings.database_dsn, migrations)
        else:
            await db.require_head(pool, migrations)
        if demo_data is not None and settings.seed_demo_data:
            await seed_once(pool, service=settings.service_name, today=settings.demo_today, seed=demo_data)
        return pool

    async def redis(self) -> Redis:
        client = open_redis(self.settings.redis_url)
        self.stack.push_async_callback(client.aclose)
        await check_redis(client, self.settings.redis_url)
        return client

    def channel(self, address: str, *services: ServiceDescriptor) -> grpc.aio.Channel:
        """A channel to a peer service (deadlines, tracing, safe retries), closed at stop."""
        channel = open_channel(address, services, timeout_s=self.settings.rpc_timeout_s)
        self.stack.push_async_callback(channel.close)
        return channel

    def background(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
        """Run ``coro`` for the life of the service; it is cancelled at stop, before anything
        opened earlier (its pool, its clients) is closed."""
        task = asyncio.create_task(coro, name=name)
        self.stack.push_async_callback(_cancel, task)
        task.add_done_callback(_report_crash)
        return task

    def relay_outbox(self, pool: asyncpg.Pool) -> None:
        self.background(OutboxRelay(pool, self.settings.kafka_bootstrap).run(), "outbox-relay")



async def _cancel(task: asyncio.Task, *, tries: int = 3, wait_s: float = 2.0) -> None:
    """Cancel and wait, a bounded number of times: Python 3.11's ``wait_for`` can swallow a
    cancellation that races with its inner future, and a stop must never hang on that."""
    for _ in range(tries):
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=wait_s)
        if done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
            return
    log.error("background_task_would_not_stop", extra={"task": task.get_name()})


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background_task_crashed", exc_info=task.exception(), extra={"task": task.get_name()})


Build = Callable[[Runtime], Awaitable[list[Servicer]]]


@dataclass(frozen=True)
class RunningService:
    settings: ServiceSettings
    server: GrpcServer
    runtime: Runtime
    metrics_port: int | None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return f"{self.settings.grpc_host}:{self.server.port}"


@asynccontextmanager
async def run_service(settings: ServiceSettings, build: Build, *, serve_metrics_port: bool = True
                      ) -> AsyncIterator[RunningService]:
    """Start the service (dependencies, gRPC server, /metrics); on exit stop it gracefully."""
    setup_tracing(settings.service_name)
    kafka.configure_security(settings.kafka_security())
    async with AsyncExitStack() as stack:
        runtime = Runtime(settings, stack)
        servicers = await build(runtime)
        server = GrpcServer(servicers, host=settings.grpc_host, port=settings.grpc_port)
        await server.start()
        metrics_port = None
        if serve_metrics_port:
            try:
                metrics_port = serve_metrics(settings.metrics_port)
            except OSError as error:
                await server.stop(grace_s=0)
                raise StartupError(f"cannot serve /metrics on port {settings.metrics_port}: {error.strerror}"
                                   ) from error
        try:
            yield RunningService(settings, server, runtime, metrics_port)
        finally:
            # In-flight calls first; then the exit stack unwinds (tasks before the pools they use).
            await server.stop(grace_s=settings.shutdown_grace_s, drain_delay_s=settings.drain_delay_s)


async def serve(settings: ServiceSettings, build: Build) -> None:
    """Run until SIGTERM or SIGINT, then drain and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with run_service(settings, build) as service:
        log.info("service_ready", extra={"grpc": service.address, "metrics_port": service.metrics_port})
        await stop.wait()
        log.info("service_stopping", extra={"grace_s": settings.shutdown_grace_s})
    shutdown_tracing()


def main(settings_class: type[ServiceSettings], build: Build) -> None:
    """Process entry point: settings, logging, serve; start-up problems are one clear line."""
    try:
        settings = load_settings(settings_class)
    except ValidationError as error:
        name = settings_class.model_fields["service_name"].default
        sys.stderr.write(f"{name}: {configuration_error(settings_class, error)}\n")
        raise SystemExit(2) from None
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    try:
        asyncio.run(serve(settings, build))
    except StartupError as error:
        sys.stderr.write(f"{settings.service_name}: cannot start: {error}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass

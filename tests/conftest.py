"""Test harness: real servers on free loopback ports, started by the tests themselves.

Scopes:
- session: one Postgres, one redis-server, one Kafka-protocol broker, one SMTP sink;
- function: `service` runs one platform service in-process on port 0 (its own fresh
  database each time), `own_broker` is a broker a test may stop and restart;
- module (tests/e2e): the whole stack as separate processes, like `make run`.

A server that cannot start fails the test run under CI (``CI`` set) and is skipped, with
the reason, elsewhere.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from services.devstack import infra
from services.devstack.launch import Stack, start_stack
from services.kit.runtime import Build, RunningService, run_service
from services.kit.settings import ServiceSettings


def unavailable(reason: str) -> None:
    """Fail loudly in CI; skip with the reason on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"required test server unavailable: {reason}", pytrace=False)
    pytest.skip(f"required test server unavailable (run `make setup`): {reason}")


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


def running(server: infra.Postgres | infra.ServerProcess) -> Iterator:
    """Start ``server`` for the fixture's scope (fail in CI / skip elsewhere if it cannot start)."""
    try:
        server.start()
    except (infra.InfraError, OSError) as error:
        unavailable(str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(state_dir: Path) -> Iterator[infra.Postgres]:
    yield from running(infra.Postgres(state_dir / "postgres" / "data", infra.free_port(), ephemeral=True))


@pytest.fixture(scope="session")
def redis_server(state_dir: Path) -> Iterator[infra.ServerProcess]:
    yield from running(infra.redis_server(state_dir / "redis", infra.free_port(), persistent=False))


@pytest.fixture(scope="session")
def redis_url(redis_server: infra.ServerProcess) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture(scope="session")
def broker(state_dir: Path) -> Iterator[infra.ServerProcess]:
    yield from running(infra.broker(state_dir, infra.free_port()))


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[infra.ServerProcess]:
    """A broker this test alone uses, so it may stop and restart it."""
    yield from running(infra.broker(tmp_path, infra.free_port()))


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[infra.SmtpSink]:
    sink = infra.SmtpSink(infra.free_port())
    sink.start()
    yield sink
    sink.stop()


_db_numbers = itertools.count(1)


@pytest.fixture
def fresh_database(postgres: infra.Postgres) -> Callable[[str], str]:
    """Create a new empty database and return its DSN."""

    def create(prefix: str) -> str:
        name = f"{prefix}_{os.getpid()}_{next(_db_numbers)}"
        postgres.create_databases(name)
        return postgres.dsn(name)

    return create


ServiceStarter = Callable[..., AbstractAsyncContextManager[RunningService]]


@pytest_asyncio.fixture
async def service(fresh_database: Callable[[str], str], redis_url: str, broker: infra.ServerProcess
                  ) -> AsyncIterator[ServiceStarter]:
    """Run a platform service in-process on port 0 against the session's servers.

    Usage: ``async with service(NotifySettings, build, **overrides) as running: ...``
    """

    @asynccontextmanager
    async def start(settings_class: type[ServiceSettings], build: Build, **overrides) -> AsyncIterator[RunningService]:
        settings = settings_class(**{
            "env": "test", "grpc_port": 0, "metrics_port": 0, "shutdown_grace_s": 2, "captcha": "off",
            "database_url": fresh_database(settings_class.model_fields["service_name"].default),
            "redis_url": redis_url, "kafka_bootstrap": f"127.0.0.1:{broker.port}", **overrides,
        })
        async with run_service(settings, build) as running:
            yield running

    yield start


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack as `make run` starts it, one per test module (separate processes on free
    ports, a fresh data dir)."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()

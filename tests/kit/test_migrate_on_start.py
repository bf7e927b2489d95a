"""With a migration job in charge (the chart's hook), a service only checks its database's revision."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from services.kit.startup import StartupError
from services.queue.app import build
from services.queue.settings import QueueSettings


async def test_a_service_that_does_not_migrate_refuses_an_old_schema_then_starts_once_migrated(
        service, fresh_database):
    dsn = fresh_database("migrate_check")
    with pytest.raises(StartupError, match="run the migrations first"):
        async with service(QueueSettings, build, database_url=dsn, migrate_on_start=False):
            pass
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.kit.migrate", "queue",
        env={"PATH": "/usr/bin:/bin", "JKN_QUEUE_DATABASE_URL": dsn},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(migrate.communicate(), 120)
    assert migrate.returncode == 0 and b"queue: database migrated" in out, err
    async with service(QueueSettings, build, database_url=dsn, migrate_on_start=False) as running:
        assert running.port > 0


def test_the_migrate_command_names_its_services_when_misused():
    wrong = subprocess.run([sys.executable, "-m", "services.kit.migrate", "gateway"], capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode == 2 and "auth|notify|membership|queue" in wrong.stderr

"""Bring one service's database to the newest revision, then exit:

    python -m services.kit.migrate <auth|notify|membership|queue>

The DSN is the service's own setting (``JKN_<SERVICE>_DATABASE_URL``, its password
``JKN_<SERVICE>_DATABASE_PASSWORD``), from the environment or a file in ``JKN_SECRETS_DIR``.
It runs the same `db.migrate` (same advisory lock) the services run at start, so the chart's
pre-upgrade Job and starting replicas never migrate twice at once; with the Job in place the
services run with ``JKN_<SERVICE>_MIGRATE_ON_START=false`` and only check.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path

from services.kit.db import migrate
from services.kit.settings import with_password
from services.kit.startup import StartupError

SERVICES = {"auth": "AuthSettings", "notify": "NotifySettings", "membership": "MembershipSettings",
            "queue": "QueueSettings"}


def _setting(name: str) -> str | None:
    """From the environment, else from the file of that name in ``JKN_SECRETS_DIR``."""
    if value := os.environ.get(name):
        return value
    secrets_dir = os.environ.get("JKN_SECRETS_DIR")
    path = Path(secrets_dir) / name if secrets_dir else None
    return path.read_text().strip() if path and path.is_file() else None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SERVICES:
        sys.stderr.write(f"usage: python -m services.kit.migrate <{'|'.join(SERVICES)}>\n")
        return 2
    service = argv[0]
    settings_class = getattr(importlib.import_module(f"services.{service}.settings"), SERVICES[service])
    # Only the DSN and its password are read (not the whole settings: the Job holds no other secret).
    prefix = f"JKN_{service.upper()}_"
    dsn = with_password(_setting(f"{prefix}DATABASE_URL") or settings_class.model_fields["database_url"].default,
                        _setting(f"{prefix}DATABASE_PASSWORD"))
    migrations = Path(str(importlib.import_module(f"services.{service}").__file__)).parent / "migrations"
    try:
        asyncio.run(migrate(dsn, migrations))
    except StartupError as error:
        sys.stderr.write(f"{service}: {error}\n")
        return 1
    sys.stdout.write(f"{service}: database migrated to the newest revision\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

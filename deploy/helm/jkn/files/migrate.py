"""Bring one service's database to the newest Alembic revision, then exit.

Run by the chart's pre-install/pre-upgrade Job as ``python -c "<this file>" <service>`` in that
service's image. The DSN is the service's own ``JKN_<SERVICE>_DATABASE_URL`` (the password, if
any, in ``PGPASSWORD``). It uses the kit's `migrate`, the same function (and the same advisory
lock) the service runs at start-up, so a migration never runs twice at once.
"""

import asyncio
import importlib
import os
import sys
from pathlib import Path

from services.kit.db import migrate

service = sys.argv[1]
package = importlib.import_module(f"services.{service}")
migrations = Path(str(package.__file__)).parent / "migrations"
asyncio.run(migrate(os.environ[f"JKN_{service.upper()}_DATABASE_URL"], migrations))
sys.stdout.write(f"{service}: database migrated to the newest revision\n")

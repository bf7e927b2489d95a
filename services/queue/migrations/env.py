"""Alembic environment of the queue database (shared logic in services.kit.db)."""

from services.kit.db import run_alembic_env

run_alembic_env()

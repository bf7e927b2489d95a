"""Postgres: an asyncpg pool per service and its Alembic migrations, applied at start.

Each service owns one database and one ``migrations/`` folder (``env.py`` calls
`run_alembic_env`, revisions live in ``versions/``). Migrations run under a Postgres
advisory lock, so many replicas starting together apply them once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from services.kit.startup import StartupError

#: Any single statement that runs longer than this is cancelled (→ 503, never a hang).
COMMAND_TIMEOUT_S = 10.0


async def _reset_lightly(conn: asyncpg.Connection) -> None:
    """What a connection needs before the next borrower, without asyncpg's default reset (``RESET
    ALL; UNLISTEN *; CLOSE ALL; …``), a round trip on every release, i.e. on every query run on
    the pool: nothing here sets session state, holds a session lock or cursor, or listens on a
    connection it gives back (the outbox removes its listener first). An open transaction (a
    borrower cancelled mid-way) is rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def connect_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, timeout_s: float = 5.0
                       ) -> asyncpg.Pool:
    """Open the pool, or stop start-up with a one-line reason."""
    try:
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, timeout=timeout_s,
            command_timeout=COMMAND_TIMEOUT_S, max_inactive_connection_lifetime=300, reset=_reset_lightly,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        raise StartupError(f"cannot reach Postgres at {_where(dsn)}: {_reason(error)}") from error


async def close_pool(pool: asyncpg.Pool, *, timeout_s: float = 5.0) -> None:
    """Close gracefully, but never hang a shutdown on a connection someone forgot to release."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        pool.terminate()


def _where(dsn: str) -> str:
    return dsn.rpartition("@")[2] or dsn


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def alembic_url(dsn: str) -> str:
    """Alembic runs on SQLAlchemy with the psycopg driver; the DSN is the service's own."""
    return "postgresql+psycopg://" + dsn.split("://", 1)[1]


async def migrate(dsn: str, migrations_dir: Path) -> None:
    """Bring the service's database to the newest revision (``alembic upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", alembic_url(dsn).replace("%", "%%"))
    try:
        await asyncio.to_thread(command.upgrade, config, "head")
    except Exception as error:  # noqa: BLE001 - any failure here stops start-up with one line
        raise StartupError(f"migrations in {migrations_dir} failed: {_reason(error)}") from error


async def require_head(pool: asyncpg.Pool, migrations_dir: Path) -> None:
    """When a service does not migrate at start (a separate migration job did), its database
    must already be at the newest revision: otherwise stop start-up with one line."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(migrations_dir)).get_heads())
    try:
        current = {r["version_num"] for r in await pool.fetch("SELECT version_num FROM alembic_version")}
    except asyncpg.UndefinedTableError:
        current = set()
    if current != heads:
        raise StartupError(f"database at revision {sorted(current) or 'none'}, code needs {sorted(heads)}:"
                           " run the migrations first (python -m services.kit.migrate <service>)")


def run_alembic_env() -> None:
    """The body of every service's ``migrations/env.py`` (online mode, under an advisory lock)."""
    from alembic import context
    from sqlalchemy import create_engine, pool, text

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("migrations need sqlalchemy.url (set by services.kit.db.migrate)")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(hashtext('jkn-migrations'))"))
        try:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(hashtext('jkn-migrations'))"))
            connection.commit()
    engine.dispose()

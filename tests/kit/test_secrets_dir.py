"""Secrets may come as files (a Kubernetes Secret mounted read-only) instead of environment variables."""

from __future__ import annotations

import pytest

from services.auth.settings import AuthSettings
from services.kit import settings as kit_settings
from services.kit.settings import with_password


def test_settings_read_secret_files_named_like_their_variables(tmp_path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "JKN_AUTH_JWT_PRIVATE_KEYS").write_text("a-real-key\n")
    (tmp_path / "JKN_AUTH_DATABASE_PASSWORD").write_text("p@ss:w/rd\n")
    (tmp_path / "JKN_REDIS_URL").write_text("redis://:secret@redis.internal:6379/0")
    monkeypatch.setenv("JKN_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("JKN_AUTH_DATABASE_URL", "postgresql://jkn_auth@pg.internal:5432/jkn_auth?sslmode=require")
    settings = kit_settings.load(AuthSettings)
    assert settings.jwt_private_keys.get_secret_value() == "a-real-key"
    assert settings.redis_url == "redis://:secret@redis.internal:6379/0"
    assert settings.database_dsn == "postgresql://jkn_auth:p%40ss%3Aw%2Frd@pg.internal:5432/jkn_auth?sslmode=require"
    assert "p@ss" not in repr(settings)  # a secret, never printed


def test_a_password_needs_a_user_in_the_url():
    assert with_password("postgresql://u@h/db", None) == "postgresql://u@h/db"
    with pytest.raises(ValueError):
        with_password("postgresql://h/db", "x")


async def test_a_service_and_the_migrate_command_connect_with_the_password_joined_in(service, fresh_database,
                                                                                     tmp_path):
    import asyncio
    import sys

    from services.queue.app import build
    from services.queue.settings import QueueSettings

    dsn = fresh_database("with_password")  # the test server trusts loopback: any password is accepted
    (tmp_path / "JKN_QUEUE_DATABASE_PASSWORD").write_text("s3cr3t/!")
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.kit.migrate", "queue",
        env={"PATH": "/usr/bin:/bin", "JKN_QUEUE_DATABASE_URL": dsn, "JKN_SECRETS_DIR": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(migrate.communicate(), 120)
    assert migrate.returncode == 0, err
    assert b"s3cr3t" not in out + err
    async with service(QueueSettings, build, database_url=dsn, database_password="s3cr3t/!",
                       migrate_on_start=False) as running:
        assert running.port > 0

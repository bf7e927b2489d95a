"""Notify settings (``JKN_NOTIFY_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, DEFAULT_SMTP_PORT, ServiceSettings, database_url


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_NOTIFY_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "notify"
    grpc_port: int = DEFAULT_PORTS["notify"][0]
    metrics_port: int = DEFAULT_PORTS["notify"][1]
    database_url: str = database_url("jkn_notify")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = DEFAULT_SMTP_PORT

"""Queue settings (``JKN_QUEUE_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, ServiceSettings, database_url


class QueueSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_QUEUE_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "queue"
    grpc_port: int = DEFAULT_PORTS["queue"][0]
    metrics_port: int = DEFAULT_PORTS["queue"][1]
    database_url: str = database_url("jkn_queue")

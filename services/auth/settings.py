"""Auth settings (``JKN_AUTH_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, ServiceSettings, database_url


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_AUTH_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "auth"
    grpc_port: int = DEFAULT_PORTS["auth"][0]
    metrics_port: int = DEFAULT_PORTS["auth"][1]
    database_url: str = database_url("jkn_auth")
    jwt_private_keys: SecretStr = Field(
        SecretStr("dev-jwt-signing-key"),
        description="Ed25519 private keys (PEM, newest first, concatenated) that sign access tokens; "
                    "older keys stay published so rotation logs nobody out. Dev: derived from this value.")
    jwks_max_age_s: int = 300
    argon2_memory_kib: int = Field(19_456, ge=19_456, description="argon2id memory cost (at least 19 MiB)")
    argon2_time_cost: int = Field(2, ge=2)
    argon2_parallelism: int = Field(1, ge=1)
    recovery_delay_s: int = Field(86_400, ge=0, description="cooling-off before an account recovery's new phone "
                                                         "takes effect (CONTRACT.md §7)")
    jobs_every_s: float = Field(60, gt=0, description="how often the periodic jobs run (applying due recoveries)")

"""Bridge settings (``JKN_BRIDGE_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_BRIDGE_PORT, PlatformSettings, shared

#: The largest request body a SIMRS may send (its requests are a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024


class BridgeSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_BRIDGE_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "bridge"
    host: str = "127.0.0.1"
    port: int = shared("JKN_BRIDGE_PORT", DEFAULT_BRIDGE_PORT, description="HTTP port (CONTRACT.md §1)")
    partner_secrets: SecretStr = Field(
        SecretStr("dev-partner-secrets"),
        description="CODE:secret pairs of partner facilities, the same as queue's and membership's (the bridge "
                    "checks the signature and derives the response key from it); outside prod, facility X also "
                    "has dev-secret-X")
    user_keys: SecretStr = Field(
        SecretStr("dev-user-keys"),
        description="CODE:user_key pairs: a facility listed must send its user_key; in prod one not listed "
                    "is refused, outside prod it may send any non-empty value")
    readiness_timeout_s: float = Field(1.0, description="deadline of each health check behind /readyz")
    shutdown_grace_s: float = 8.0
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=0, description="largest request body")

"""Gateway settings (``JKN_GATEWAY_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_GATEWAY_PORT, PlatformSettings, shared


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_GATEWAY_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = shared("JKN_GATEWAY_PORT", DEFAULT_GATEWAY_PORT, description="HTTP port (CONTRACT.md §1)")
    jwks_refresh_s: int = Field(300, description="how often the auth service's public keys are reloaded")
    readiness_timeout_s: float = Field(1.0, description="deadline of each health check behind /readyz")
    shutdown_grace_s: float = 8.0
    auth_rate_per_min: int = Field(60, description="requests a client IP may make to the account routes a minute")
    booking_rate_per_min: int = Field(20, description="bookings and cancellations one account may make a minute")

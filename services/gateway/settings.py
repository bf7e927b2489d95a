"""Gateway settings (``JKN_GATEWAY_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.gateway.client_ip import IPNetwork, parse_networks
from services.kit.settings import DEFAULT_GATEWAY_PORT, PlatformSettings, shared

#: CONTRACT.md §2: a request body over 1 MiB is refused with 413 PAYLOAD_TOO_LARGE.
MAX_BODY_BYTES = 1024 * 1024


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
    booking_timeout_s: float = Field(10.0, gt=0, description="deadline of a call to queue that takes a seat (booking, "
                                     "reschedule, waitlist): at 06:00 thousands of attempts queue for seconds behind "
                                     "one another, and a person waits that long rather than get a 503")
    trusted_proxies: str = Field("", description="comma-separated CIDRs of the proxies whose X-Forwarded-For "
                                                 "is believed (the ingress controller); empty: none, the TCP "
                                                 "peer is the client")
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=0, description="largest request body (CONTRACT.md §2: 1 MiB)")

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        try:
            parse_networks(value)
        except ValueError as error:
            raise ValueError(f"not a comma-separated list of CIDRs: {error}") from None
        return value

    @cached_property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

"""Membership settings (``JKN_MEMBERSHIP_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, PartnerFacingSettings, database_url


class MembershipSettings(PartnerFacingSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_MEMBERSHIP_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "membership"
    grpc_port: int = DEFAULT_PORTS["membership"][0]
    metrics_port: int = DEFAULT_PORTS["membership"][1]
    database_url: str = database_url("jkn_membership")
    payment_webhook_secret: SecretStr = Field(SecretStr("dev-payment-secret"),
                                              description="HMAC key of the payment provider's callbacks")
    card_signing_keys: SecretStr = Field(SecretStr("dev-card-signing-key"),
                                         description="Ed25519 PEM keys signing digital cards, newest first")
    card_validity_days: int = 30

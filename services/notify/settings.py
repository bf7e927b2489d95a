"""Notify settings (``JKN_NOTIFY_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, DEFAULT_SMTP_PORT, ServiceSettings, database_url


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_NOTIFY_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "notify"
    grpc_port: int = DEFAULT_PORTS["notify"][0]
    metrics_port: int = DEFAULT_PORTS["notify"][1]
    database_url: str = database_url("jkn_notify")
    role: Literal["all", "api", "worker"] = Field(
        "all", description="what this process runs: api (the gRPC API: codes, checks, send requests), worker "
        "(the relays to Kafka and the delivery worker; its gRPC port serves health only), or all of it in one "
        "process (dev, tests)")

    # one-time codes (CONTRACT.md §3; the extra defences of issue 3)
    otp_code_keys: SecretStr = Field(SecretStr("dev-otp-code-key"),
                                     description="kid:secret pairs, newest first; codes derive from them")
    otp_sms_ttl_s: int = 300
    otp_email_ttl_s: int = 600
    otp_max_checks: int = 5
    otp_resend_cooldown_s: int = 60
    otp_destination_10m: int = 5
    otp_destination_24h: int = 10
    otp_client_ip_1h: int = 30
    otp_number_prefix_1h: int = Field(200, description="sends an hour to one number prefix (SMS pumping)")
    otp_number_prefix_digits: int = Field(7, description="digits of the E.164 number that make its prefix")
    otp_sms_budget_1h: int = Field(20_000, description="SMS an hour across all destinations (breaker)")
    otp_allowed_country_codes: str = Field("62", description="comma-separated calling codes SMS may go to")

    # delivery
    smtp_host: str = "127.0.0.1"
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("dev-smtp-password")
    smtp_use_tls: bool = False
    mail_from: str = "Mobile JKN <no-reply@jkn.example.id>"
    sms_gateway_url: str = Field("", description="HTTP SMS gateway; empty: SMS go to the dev outbox only")
    sms_gateway_token: SecretStr = SecretStr("dev-sms-gateway-token")
    sms_sender_id: str = "BPJSKES"
    sms_callback_secret: SecretStr = Field(SecretStr("dev-sms-callback-secret"),
                                           description="signs the SMS gateway's delivery reports (HMAC-SHA256)")
    dev_unreachable_numbers: str = Field("+6281299990000", description="dev/test only: comma-separated numbers "
                                         "the dev SMS provider refuses, as an operator would for a dead number")
    whatsapp_api_url: str = Field("", description="a WhatsApp Business-style HTTP API; empty: no WhatsApp channel")
    whatsapp_api_token: SecretStr | None = Field(None, description="its bearer token (required with the URL)")
    provider_timeout_s: float = 5.0
    provider_retries: int = Field(3, description="tries per provider call on timeouts and 5xx")
    delivery_max_attempts: int = Field(5, description="handling attempts before the dead-letter topic")

    @property
    def unreachable_numbers(self) -> frozenset[str]:
        return frozenset(n.strip() for n in self.dev_unreachable_numbers.split(",") if n.strip())

    @property
    def allowed_country_codes(self) -> frozenset[int]:
        return frozenset(int(c) for c in self.otp_allowed_country_codes.split(",") if c.strip())

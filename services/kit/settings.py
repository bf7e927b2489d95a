"""Typed settings from the environment, one class per service.

Every service subclasses `ServiceSettings` with its own `env_prefix` (``JKN_AUTH_`` …).
Fields shared by the whole platform (``JKN_ENV``, ``JKN_DATA_DIR``, the Redis, Kafka and
peer addresses) are read without the service prefix, so one environment configures the
stack. Defaults work for the local run (`make run`); secrets have ``dev-`` defaults that
`ServiceSettings` refuses when ``JKN_ENV=prod``.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.kafka import KafkaSecurity

Env = Literal["dev", "test", "prod"]

#: Ports of the local run; the gateway and the partner ports are fixed by CONTRACT.md §1.
DEFAULT_PORTS = {
    "auth": (50051, 9461),
    "notify": (50052, 9462),
    "membership": (50053, 9463),
    "queue": (50054, 9464),
}
DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379
DEFAULT_KAFKA_PORT = 59092
DEFAULT_SMTP_PORT = 8025
DEFAULT_GATEWAY_PORT = 8080
DEFAULT_BRIDGE_PORT = 8081  # the BPJS-compatible REST bridge (CONTRACT.md §1, §8)


def shared(name: str, default, **kwargs):
    """A field read from the un-prefixed platform-wide variable ``name`` (e.g. ``JKN_ENV``)."""
    return Field(default, validation_alias=AliasChoices(name), **kwargs)


class PlatformSettings(BaseSettings):
    """What every process of the platform reads."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    env: Env = shared("JKN_ENV", "prod", description="dev (local run), test, or prod; unset is prod, so a "
                                                     "forgotten setting never exposes dev features or accepts "
                                                     "dev secrets (make run and the tests set it)")
    data_dir: Path = shared("JKN_DATA_DIR", Path("var"), description="local state of the dev stack")
    log_level: str = shared("JKN_LOG_LEVEL", "INFO")
    log_json: bool = shared("JKN_LOG_JSON", True, description="JSON log lines (false: plain text)")
    redis_url: str = shared("JKN_REDIS_URL", f"redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0")
    kafka_bootstrap: str = shared("JKN_KAFKA_BOOTSTRAP", f"127.0.0.1:{DEFAULT_KAFKA_PORT}")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = shared(
        "JKN_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", description="SASL_SSL for a production cluster")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = shared(
        "JKN_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    kafka_sasl_username: str = shared("JKN_KAFKA_SASL_USERNAME", "")
    kafka_sasl_password: SecretStr | None = shared("JKN_KAFKA_SASL_PASSWORD", None,
                                                   description="needed with SASL_PLAINTEXT / SASL_SSL")
    kafka_ssl_cafile: str = shared("JKN_KAFKA_SSL_CAFILE", "", description="CA bundle of the brokers (empty: "
                                                                            "the system's)")
    auth_addr: str = shared("JKN_AUTH_ADDR", f"127.0.0.1:{DEFAULT_PORTS['auth'][0]}")
    notify_addr: str = shared("JKN_NOTIFY_ADDR", f"127.0.0.1:{DEFAULT_PORTS['notify'][0]}")
    membership_addr: str = shared("JKN_MEMBERSHIP_ADDR", f"127.0.0.1:{DEFAULT_PORTS['membership'][0]}")
    queue_addr: str = shared("JKN_QUEUE_ADDR", f"127.0.0.1:{DEFAULT_PORTS['queue'][0]}")
    rpc_timeout_s: float = shared("JKN_RPC_TIMEOUT_S", 3.0, description="default deadline of a gRPC call")
    captcha: Literal["on", "off"] = shared("JKN_CAPTCHA", "on", description="captcha on registration and after "
                                                                          "3 failed logins (make run: off)")
    demo_today: date | None = shared("JKN_DEMO_TODAY", None,
                                     description="the 'today' demo data is relative to (make run sets it)")

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol=self.kafka_security_protocol, sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else "",
            ssl_cafile=self.kafka_ssl_cafile)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self):
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError("JKN_KAFKA_SECURITY_PROTOCOL=SASL_* needs JKN_KAFKA_SASL_USERNAME and "
                             "JKN_KAFKA_SASL_PASSWORD")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_prod(self):
        """In prod every secret must be set, and not to a ``dev-`` value."""
        if self.env != "prod":
            return self
        bad = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                if not raw or raw.startswith("dev-"):
                    bad.append(name)
        if bad:
            raise ValueError(f"JKN_ENV=prod refuses dev or empty secrets: {', '.join(sorted(bad))}")
        return self


class ServiceSettings(PlatformSettings):
    """A gRPC service: where it listens and which database it owns."""

    service_name: str = "service"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    metrics_port: int = Field(0, description="Prometheus /metrics port (0: any free port)")
    shutdown_grace_s: float = Field(8.0, description="how long in-flight RPCs may finish on SIGTERM")
    drain_delay_s: float = Field(0.0, description="pause between NOT_SERVING and closing the port "
                                                  "(give load balancers time to notice; ~5 s in Kubernetes)")
    database_url: str = Field("", description="the service's own database, without a password")
    database_password: SecretStr | None = Field(None, description="its password (from a Secret; joined into the "
                                                                  "DSN, never logged)")
    db_pool_min: int = 1
    db_pool_max: int = 10
    seed_demo_data: bool = Field(False, description="seed the demo data on first start (make run sets it)")
    migrate_on_start: bool = Field(True, description="apply the database migrations at start (false: a migration "
                                                     "job does, e.g. the chart's hook, and the service only checks)")


    @property
    def database_dsn(self) -> str:
        """The DSN to connect with: the URL, with the password when one is set."""
        return with_password(self.database_url, self.database_password.get_secret_value()
                             if self.database_password else None)


def with_password(dsn: str, password: str | None) -> str:
    """``postgresql://user@host/db`` with ``password`` joined in (URL-quoted)."""
    if not password:
        return dsn
    scheme, _, rest = dsn.partition("://")
    userinfo, at, host = rest.partition("@")
    if not at:
        raise ValueError("the database URL needs a user to join a password to")
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{quote(password, safe='')}@{host}"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(settings_class: type[SettingsT]) -> SettingsT:
    """The process's settings: the environment, plus one file per secret in ``JKN_SECRETS_DIR``
    when set (a Kubernetes Secret mounted as files: ``/etc/jkn/secrets/JKN_AUTH_JWT_PRIVATE_KEYS``
    …), so secrets need not sit in environment variables."""
    secrets_dir = os.environ.get("JKN_SECRETS_DIR") or None
    return settings_class(_secrets_dir=secrets_dir)  # type: ignore[call-arg]


class PartnerFacingSettings(ServiceSettings):
    """A service with a partner API (membership, queue): the facilities' shared secrets."""

    partner_secrets: SecretStr = Field(
        SecretStr("dev-partner-secrets"),
        description="CODE:secret pairs of partner facilities; outside prod, facility X also has dev-secret-X")


def database_url(db_name: str, port: int = DEFAULT_PG_PORT) -> str:
    """The local-run DSN of one service database."""
    return f"postgresql://postgres@127.0.0.1:{port}/{db_name}"

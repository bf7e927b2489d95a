"""Kafka connection security comes from the settings and reaches every client the kit makes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.kit import kafka
from services.kit.settings import PlatformSettings


def test_sasl_ssl_options_from_the_settings():
    settings = PlatformSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="jkn-queue",
                                kafka_sasl_password="s3cret", kafka_sasl_mechanism="SCRAM-SHA-256")
    options = settings.kafka_security().client_options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("jkn-queue", "s3cret")
    assert options["ssl_context"] is not None
    assert PlatformSettings().kafka_security().client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_without_credentials_is_refused_at_start():
    with pytest.raises(ValidationError, match="JKN_KAFKA_SASL_USERNAME"):
        PlatformSettings(kafka_security_protocol="SASL_SSL")


async def test_the_clients_use_the_configured_protocol(broker):
    """TLS towards the plaintext local broker cannot connect: the setting is really applied."""
    bootstrap = f"127.0.0.1:{broker.port}"
    kafka.configure_security(kafka.KafkaSecurity(protocol="SSL"))
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - aiokafka's error differs by phase
            await kafka.start_producer(bootstrap, timeout_s=2)
    finally:
        kafka.configure_security(kafka.KafkaSecurity())
    producer = await kafka.start_producer(bootstrap, timeout_s=5)
    await producer.stop()

"""Settings guard themselves; the error table covers every code of the API."""

from __future__ import annotations

import grpc
import pytest
from pydantic import SecretStr, ValidationError

from jkn.common.v1 import common_pb2
from services.auth.settings import AuthSettings
from services.kit.errors import CODES, DomainError
from services.notify.settings import NotifySettings


def test_defaults_work_for_the_local_run(monkeypatch):
    monkeypatch.setenv("JKN_ENV", "dev")
    settings = NotifySettings()
    assert settings.env == "dev" and settings.grpc_port == 50052
    assert settings.database_url.endswith("/jkn_notify")


def test_an_unset_env_is_prod_and_refuses_dev_secrets(monkeypatch):
    monkeypatch.delenv("JKN_ENV", raising=False)
    with pytest.raises(ValidationError, match="JKN_ENV=prod refuses dev or empty secrets"):
        NotifySettings()


def test_platform_variables_reach_every_service(monkeypatch):
    monkeypatch.setenv("JKN_ENV", "dev")
    monkeypatch.setenv("JKN_REDIS_URL", "redis://10.0.0.5:6379/1")
    monkeypatch.setenv("JKN_AUTH_GRPC_PORT", "6001")
    assert AuthSettings().redis_url == "redis://10.0.0.5:6379/1"
    assert AuthSettings().grpc_port == 6001
    assert NotifySettings().grpc_port == 50052


def test_prod_refuses_dev_secrets(monkeypatch):
    monkeypatch.setenv("JKN_ENV", "prod")
    with pytest.raises(ValidationError, match="jwt_private_keys"):
        AuthSettings()


def test_prod_accepts_real_secrets(monkeypatch):
    monkeypatch.setenv("JKN_ENV", "prod")
    settings = AuthSettings(jwt_private_keys=SecretStr("-----BEGIN PRIVATE KEY-----x-----END PRIVATE KEY-----"))
    assert settings.is_prod


def test_every_error_reason_of_the_api_has_a_transport_mapping():
    reasons = {name.removeprefix("ERROR_REASON_") for name in common_pb2.ErrorReason.keys()} - {"UNSPECIFIED"}  # noqa: SIM118
    assert reasons == set(CODES)


@pytest.mark.parametrize(("code", "http"), [
    ("OTP_INVALID", 422), ("OTP_EXPIRED", 410), ("OTP_ATTEMPTS_EXCEEDED", 429), ("ACCOUNT_LOCKED", 423),
    ("ALREADY_REGISTERED", 409), ("FKTP_CHANGE_TOO_SOON", 409), ("PARTICIPANT_INACTIVE", 403),
    ("DEPENDENCY_UNAVAILABLE", 503), ("INVALID_CREDENTIALS", 401), ("NOT_FOUND", 404),
])
def test_contract_http_statuses(code, http):
    assert CODES[code].http == http


def test_unknown_code_is_a_programming_error():
    with pytest.raises(ValueError):
        DomainError(code="NOT_A_CODE")


def test_domain_error_status_carries_code():
    status = DomainError("x", code="QUOTA_FULL").to_status()
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION


def test_bad_configuration_names_the_variable_to_fix(monkeypatch):
    from services.gateway.settings import GatewaySettings
    from services.kit.startup import configuration_error

    monkeypatch.setenv("JKN_AUTH_GRPC_PORT", "abc")
    with pytest.raises(ValidationError) as caught:
        AuthSettings()
    assert configuration_error(AuthSettings, caught.value).startswith("bad configuration: JKN_AUTH_GRPC_PORT: ")

    monkeypatch.setenv("JKN_GATEWAY_PORT", "xyz")
    with pytest.raises(ValidationError) as caught:
        GatewaySettings()
    assert configuration_error(GatewaySettings, caught.value).startswith("bad configuration: JKN_GATEWAY_PORT: ")


def test_prod_takes_signing_keys_only_as_ed25519_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.kit.signing import load_signing_keys
    from services.kit.startup import StartupError

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert len(load_signing_keys(pem, allow_derived=False)) == 1
    with pytest.raises(StartupError, match="JKN_AUTH_JWT_PRIVATE_KEYS: expected Ed25519 private keys in PEM"):
        load_signing_keys("a-long-random-looking-string", setting="JKN_AUTH_JWT_PRIVATE_KEYS", allow_derived=False)
    with pytest.raises(StartupError, match="not a readable PEM"):
        load_signing_keys("-----BEGIN PRIVATE KEY-----x-----END PRIVATE KEY-----", allow_derived=False)
    assert len(load_signing_keys("dev-jwt-signing-key")) == 1  # dev and test derive one

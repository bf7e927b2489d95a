"""What stops a process from starting, said in one line (never a traceback wall)."""

from __future__ import annotations

import socket

from pydantic import ValidationError
from pydantic_settings import BaseSettings


class StartupError(Exception):
    """Start-up cannot go on; the message is the one clear line shown to the operator."""


def configuration_error(settings_class: type[BaseSettings], error: ValidationError) -> str:
    """``JKN_AUTH_GRPC_PORT: Input should be a valid integer`` — named by the variable to fix."""
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule across fields
        return f"bad configuration: {message}"
    field = str(first["loc"][0])
    if field not in settings_class.model_fields:  # already an environment variable (an alias)
        return f"bad configuration: {field}: {message}"
    prefix = settings_class.model_config.get("env_prefix", "")
    return f"bad configuration: {(prefix + field).upper()}: {message}"


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already accepts connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0

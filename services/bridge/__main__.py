"""``python -m services.bridge``: the BPJS-compatible REST bridge on ``JKN_BRIDGE_PORT`` (8081)."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from services.bridge.app import create_app
from services.bridge.settings import BridgeSettings
from services.kit.logs import configure_logging
from services.kit.settings import load as load_settings
from services.kit.startup import configuration_error, port_in_use


def main() -> None:
    try:
        settings = load_settings(BridgeSettings)
    except ValidationError as error:
        sys.stderr.write(f"bridge: {configuration_error(BridgeSettings, error)}\n")
        raise SystemExit(2) from None
    configure_logging("bridge", level=settings.log_level, json_lines=settings.log_json)
    if port_in_use(settings.port, settings.host):
        sys.stderr.write(f"bridge: cannot start: port {settings.port} is already taken\n")
        raise SystemExit(2)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=int(settings.shutdown_grace_s),
                server_header=False, proxy_headers=False)


if __name__ == "__main__":
    main()

"""``python -m services.gateway``: the HTTP edge on ``JKN_GATEWAY_PORT`` (8080)."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.kit.logs import configure_logging
from services.kit.settings import load as load_settings
from services.kit.startup import configuration_error, port_in_use


def main() -> None:
    try:
        settings = load_settings(GatewaySettings)
    except ValidationError as error:
        sys.stderr.write(f"gateway: {configuration_error(GatewaySettings, error)}\n")
        raise SystemExit(2) from None
    configure_logging("gateway", level=settings.log_level, json_lines=settings.log_json)
    if port_in_use(settings.port, settings.host):
        sys.stderr.write(f"gateway: cannot start: port {settings.port} is already taken\n")
        raise SystemExit(2)
    # proxy_headers=False: X-Forwarded-For is the gateway's to judge (JKN_GATEWAY_TRUSTED_PROXIES,
    # `client_ip`), never uvicorn's; the peer address reaches the app as it is.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=int(settings.shutdown_grace_s),
                server_header=False, proxy_headers=False)


if __name__ == "__main__":
    main()

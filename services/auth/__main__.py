"""``python -m services.auth``: the auth gRPC service."""

from services.auth.app import build
from services.auth.settings import AuthSettings
from services.kit.runtime import main

if __name__ == "__main__":
    main(AuthSettings, build)

"""``python -m services.notify``: the notify gRPC service."""

from services.kit.runtime import main
from services.notify.app import build
from services.notify.settings import NotifySettings

if __name__ == "__main__":
    main(NotifySettings, build)

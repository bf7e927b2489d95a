"""``python -m services.queue``: the queue gRPC service (internal and partner APIs)."""

from services.kit.runtime import main
from services.queue.app import build
from services.queue.settings import QueueSettings

if __name__ == "__main__":
    main(QueueSettings, build)

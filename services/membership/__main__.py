"""``python -m services.membership``: the membership gRPC service (internal and partner APIs)."""

from services.kit.runtime import main
from services.membership.app import build
from services.membership.settings import MembershipSettings

if __name__ == "__main__":
    main(MembershipSettings, build)

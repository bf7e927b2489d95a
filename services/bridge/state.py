"""What the bridge holds for its life: channels and partner stubs to queue and membership, the
facilities' secrets and user keys. Opened in the lifespan, closed on shutdown."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc

from jkn.membership.v1 import partner_pb2 as membership_partner_pb2
from jkn.membership.v1 import partner_pb2_grpc as membership_partner_pb2_grpc
from jkn.queue.v1 import partner_pb2, partner_pb2_grpc
from services.bridge.headers import UserKeys
from services.bridge.settings import BridgeSettings
from services.kit.channels import open_channel
from services.kit.partner_auth import PartnerSecrets


@dataclass
class BridgeState:
    settings: BridgeSettings
    queue: partner_pb2_grpc.PartnerQueueServiceStub
    membership: membership_partner_pb2_grpc.PartnerMembershipServiceStub
    secrets: PartnerSecrets
    user_keys: UserKeys
    health: dict[str, health_pb2_grpc.HealthStub] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: BridgeSettings, stack: AsyncExitStack) -> BridgeState:
        s = settings
        descriptors = {
            "queue": (s.queue_addr, partner_pb2.DESCRIPTOR.services_by_name["PartnerQueueService"]),
            "membership": (s.membership_addr,
                           membership_partner_pb2.DESCRIPTOR.services_by_name["PartnerMembershipService"]),
        }
        channels: dict[str, grpc.aio.Channel] = {}
        for name, (address, service) in descriptors.items():
            channels[name] = open_channel(address, [service], timeout_s=s.rpc_timeout_s)
            stack.push_async_callback(channels[name].close)
        return cls(
            settings=settings, queue=partner_pb2_grpc.PartnerQueueServiceStub(channels["queue"]),
            membership=membership_partner_pb2_grpc.PartnerMembershipServiceStub(channels["membership"]),
            secrets=PartnerSecrets(s.partner_secrets.get_secret_value(), dev_fallback=not s.is_prod),
            user_keys=UserKeys("" if s.user_keys.get_secret_value().startswith("dev-")
                               else s.user_keys.get_secret_value(), any_key=not s.is_prod),
            health={name: health_pb2_grpc.HealthStub(ch) for name, ch in channels.items()},
        )

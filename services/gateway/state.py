"""What the gateway holds for its life: channels and stubs to every service, the JWKS.

Opened in the lifespan, closed on shutdown; routes reach it through `deps`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc
from redis.asyncio import Redis

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.gateway.bearer import JwksCache
from services.gateway.reads import MembershipReads
from services.gateway.settings import GatewaySettings
from services.kit.channels import open_channel
from services.kit.redis import PipelinedScript, open_redis

#: The check of every authenticated request, in one Redis command: whether the session (KEYS[1])
#: or the token (KEYS[2]) is revoked (``contracts.revocation``); when ARGV[1] is a candidate stamp,
#: the participant's stamp KEYS[3] (``contracts.freshness`` rule 1: ``SET NX GET``, nil when ARGV[1]
#: became it); when KEYS[4] names a rate-limit counter of the current minute, its count after this
#: request (expiring after 61 s). Its reply: ``[revoked count, stamp or nil, count or nil]``.
CHECK_CALLER = """
local revoked = redis.call('EXISTS', KEYS[1], KEYS[2])
if revoked > 0 then return {revoked, false, false} end
local stamp = false
if ARGV[1] ~= '' then stamp = redis.call('SET', KEYS[3], ARGV[1], 'NX', 'GET', 'EX', ARGV[2]) end
local count = false
if KEYS[4] then
  count = redis.call('INCR', KEYS[4])
  if count == 1 then redis.call('EXPIRE', KEYS[4], 61) end
end
return {revoked, stamp, count}
"""


@dataclass
class GatewayState:
    settings: GatewaySettings
    channels: dict[str, grpc.aio.Channel]
    auth: auth_pb2_grpc.AuthServiceStub
    notify: notify_pb2_grpc.NotifyServiceStub
    membership: membership_pb2_grpc.MembershipServiceStub
    queue: queue_pb2_grpc.QueueServiceStub
    jwks: JwksCache
    redis: Redis
    check_caller: PipelinedScript
    health: dict[str, health_pb2_grpc.HealthStub] = field(default_factory=dict)
    nokas: dict[str, str] = field(default_factory=dict)  # account id → NOKA (never changes), bounded
    membership_reads: MembershipReads = field(default_factory=MembershipReads)

    @classmethod
    async def open(cls, settings: GatewaySettings, stack: AsyncExitStack) -> GatewayState:
        s = settings
        descriptors = {
            "auth": (s.auth_addr, auth_pb2.DESCRIPTOR.services_by_name["AuthService"]),
            "notify": (s.notify_addr, notify_pb2.DESCRIPTOR.services_by_name["NotifyService"]),
            "membership": (s.membership_addr, membership_pb2.DESCRIPTOR.services_by_name["MembershipService"]),
            "queue": (s.queue_addr, queue_pb2.DESCRIPTOR.services_by_name["QueueService"]),
        }
        channels = {}
        for name, (address, service) in descriptors.items():
            channels[name] = open_channel(address, [service], timeout_s=s.rpc_timeout_s)
            stack.push_async_callback(channels[name].close)
        auth = auth_pb2_grpc.AuthServiceStub(channels["auth"])
        redis = open_redis(s.redis_url)
        stack.push_async_callback(redis.aclose)
        jwks = JwksCache(auth, refresh_s=s.jwks_refresh_s)
        stack.push_async_callback(jwks.aclose)  # a background refresh ends before the channels close
        return cls(
            settings=settings, channels=channels, auth=auth,
            notify=notify_pb2_grpc.NotifyServiceStub(channels["notify"]),
            membership=membership_pb2_grpc.MembershipServiceStub(channels["membership"]),
            queue=queue_pb2_grpc.QueueServiceStub(channels["queue"]),
            jwks=jwks, redis=redis, check_caller=PipelinedScript(redis, CHECK_CALLER),
            health={name: health_pb2_grpc.HealthStub(ch) for name, ch in channels.items()},
        )

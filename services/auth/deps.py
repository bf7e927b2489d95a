"""What auth's use cases share, built once by `app.build`: the database, Redis, the password
hasher, the access-token signing keys, the peer services, and the attempt counters (logins, PINs,
password-reset codes)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis

from jkn.membership.v1 import membership_pb2_grpc
from jkn.notify.v1 import notify_pb2_grpc
from services.auth.lockout import Lockout
from services.auth.passwords import Hasher
from services.auth.pin_lock import PinLock
from services.auth.reset_codes import ResetCodes
from services.kit.signing import SigningKey


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    redis: Redis
    hasher: Hasher
    #: Newest first: the first signs new access tokens, every one still verifies.
    signing_keys: list[SigningKey]
    membership: membership_pb2_grpc.MembershipServiceStub
    notify: notify_pb2_grpc.NotifyServiceStub
    #: Whether registration and repeated failed logins need a passed captcha (settings ``captcha``).
    captcha_on: bool
    lockout: Lockout
    pin_lock: PinLock
    reset_codes: ResetCodes
    #: Work started after an answer was given (a reset code), held until it is done.
    background: set[asyncio.Task[None]] = field(default_factory=set, compare=False)
    #: Cooling-off of an account recovery (settings ``recovery_delay_s``).
    recovery_delay_s: int = 86_400

    @classmethod
    def assemble(cls, *, pool: asyncpg.Pool, redis: Redis, hasher: Hasher, signing_keys: list[SigningKey],
                 membership: membership_pb2_grpc.MembershipServiceStub, notify: notify_pb2_grpc.NotifyServiceStub,
                 captcha_on: bool, recovery_delay_s: int = 86_400) -> Deps:
        """The attempt counters live in the same Redis."""
        return cls(pool=pool, redis=redis, hasher=hasher, signing_keys=signing_keys, membership=membership,
                   notify=notify, captcha_on=captcha_on, lockout=Lockout(redis), pin_lock=PinLock(redis),
                   reset_codes=ResetCodes(redis), recovery_delay_s=recovery_delay_s)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task of its own, referenced until it is done."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

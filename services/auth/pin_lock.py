"""PIN attempts: 5 wrong PINs lock PIN use for 30 minutes (CONTRACT.md §3), in Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from services.kit.errors import DomainError

MAX_WRONG = 5
LOCK_S = 30 * 60

_FAIL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


class PinLock:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._fail = redis.register_script(_FAIL)

    @staticmethod
    def _key(account_id: str) -> str:
        return f"auth:pin-fail:{account_id}"

    async def check(self, account_id: str) -> None:
        failures = int(await self.redis.get(self._key(account_id)) or 0)
        if failures >= MAX_WRONG:
            raise DomainError("PIN locked", code="PIN_LOCKED",
                              retry_after=max(1, int(await self.redis.ttl(self._key(account_id)))))

    async def failed(self, account_id: str) -> int:
        """Count a wrong PIN; the count (and the lock once it reaches 5) lasts 30 minutes."""
        return int(await self._fail(keys=[self._key(account_id)], args=[MAX_WRONG, LOCK_S]))

    async def succeeded(self, account_id: str) -> None:
        await self.redis.delete(self._key(account_id))

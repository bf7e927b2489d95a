"""PIN attempts: 5 wrong PINs lock PIN use for 30 minutes (CONTRACT.md §3 "PIN", "attempts under
concurrency"), per account, in Redis on Redis' clock.

- Rule 1: every PIN guess is counted *before* it is checked, in one atomic step (`PinLock.reserve`)
  that refuses (PIN_LOCKED with ``retry_after``) once 5 guesses are counted, or reserves the
  next one; only a reserved guess is compared. Of any number of parallel guesses at most 5 are
  compared, and the fifth reservation locks at once.
- Rule 2: the count (and the lock once it reaches 5) lasts 30 minutes from the first wrong PIN
  (the lock: from the fifth); a right PIN clears it, a wrong one leaves its reservation counted.
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.kit.errors import DomainError

MAX_WRONG = 5
LOCK_S = 30 * 60

# KEYS[1] the account's counter; ARGV: 1 max wrong, 2 lock (s).
# Reply: the reserved guess's number (1..max), or minus the ms the lock still lasts.
_RESERVE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return -math.max(1, redis.call('PTTL', KEYS[1])) end
n = redis.call('INCR', KEYS[1])
if n == 1 or n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


class PinLock:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)

    @staticmethod
    def _key(account_id: str) -> str:
        return f"auth:pin-fail:{account_id}"

    async def reserve(self, account_id: str) -> int:
        """Rule 1: the number of this guess (1–5), counted before it is checked; PIN_LOCKED when
        5 are already counted."""
        n = int(await self._reserve(keys=[self._key(account_id)], args=[MAX_WRONG, LOCK_S]))
        if n < 0:
            raise DomainError("PIN locked", code="PIN_LOCKED", retry_after=-(n // 1000))
        return n

    async def retry_after(self, account_id: str) -> int:
        """Seconds the lock of a fifth wrong guess lasts."""
        return max(1, int(await self.redis.ttl(self._key(account_id))))

    async def succeeded(self, account_id: str) -> None:
        """Rule 2."""
        await self.redis.delete(self._key(account_id))

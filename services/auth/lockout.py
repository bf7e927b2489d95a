"""Lockout after failed logins (CONTRACT.md §3), per identifier, in Redis on Redis' clock.

- Rule 1: after 5 consecutive failures the identifier is locked for 60 s; each further lock
  doubles, up to 15 min; while locked, even the right password is refused (423).
- Rule 2: failures are forgotten 12 h after the last one; a success resets everything.
- Rule 3: unknown identifiers are counted and locked exactly like real ones, so a lock does
  not reveal that an account exists. Keys hold a hash of the identifier, never the identifier.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from services.kit.errors import DomainError

MAX_FAILURES = 5
FIRST_LOCK_S = 60
MAX_LOCK_S = 15 * 60
FORGET_AFTER_S = 12 * 3600

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local locked_until = tonumber(redis.call('HGET', key, 'locked_until') or '0')
if ARGV[1] == 'check' then
  if locked_until > now then return locked_until - now end
  return 0
end
-- failure
if locked_until > now then return locked_until - now end
local failures = redis.call('HINCRBY', key, 'failures', 1)
local result = 0
if failures >= tonumber(ARGV[2]) then
  local locks = redis.call('HINCRBY', key, 'locks', 1)
  local lock_ms = math.min(tonumber(ARGV[3]) * 2 ^ (locks - 1), tonumber(ARGV[4])) * 1000
  redis.call('HSET', key, 'locked_until', now + lock_ms, 'failures', 0)
  result = -lock_ms
end
redis.call('PEXPIRE', key, tonumber(ARGV[5]) * 1000 + math.max(0, -result))
return result
"""


def key_of(identifier: str) -> str:
    return "auth:lock:" + hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:32]


class Lockout:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._script = redis.register_script(_SCRIPT)

    async def check(self, identifier: str) -> None:
        """Rule 1: raise ACCOUNT_LOCKED (with retry_after) while the identifier is locked."""
        left_ms = int(await self._script(keys=[key_of(identifier)], args=["check"]))
        if left_ms > 0:
            raise DomainError("locked", code="ACCOUNT_LOCKED", retry_after=-(-left_ms // 1000))

    async def failed(self, identifier: str) -> None:
        """Count one failure (rules 1–2); may start a lock for the next attempts."""
        await self._script(keys=[key_of(identifier)],
                           args=["fail", MAX_FAILURES, FIRST_LOCK_S, MAX_LOCK_S, FORGET_AFTER_S])

    async def recent_failures(self, identifier: str) -> int:
        """Consecutive failures since the last lock or success (for the captcha after 3)."""
        return int(await self.redis.hget(key_of(identifier), "failures") or 0)

    async def succeeded(self, identifier: str) -> None:
        """Rule 2."""
        await self.redis.delete(key_of(identifier))

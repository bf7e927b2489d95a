"""Lockout after failed logins (CONTRACT.md §3 "login failures", "attempts under concurrency"),
per account, in Redis on Redis' clock.

- Rule 1: after 5 consecutive failures the account is locked for 60 s; each further lock
  doubles, up to 15 min; while locked, even the right password is refused (423).
- Rule 2: failures are forgotten 12 h after the last one; a success resets everything.
- Rule 3: every guess is counted *before* it is checked, in one atomic step (`Lockout.reserve`):
  the step refuses (locked) or reserves an attempt, and only a reserved attempt may run the
  password check. The fifth reservation starts the lock at once, so of any number of parallel
  guesses at most 5 are checked; a success clears the count, a failure leaves its reservation
  counted (a crash in between counts as a failure too).
- Rule 4: the counter belongs to the account once the identifier names one (`subject_key`): its
  NIK, NOKA and (verified) email share one counter, and so does the password check of
  ``PUT /v1/me/pin``. An identifier that names no account is counted and locked by itself,
  normalised (spaces stripped, lower case), exactly like an account, so a lock does not reveal
  whether an account exists. Keys hold a hash, never the identifier or the account id.
- Rule 5: with the captcha gate on, an attempt after 3 consecutive failures (counted since the
  last success, across locks) is refused with CAPTCHA_REQUIRED unless a captcha was passed;
  the gate reads the same counter inside the same atomic step, so parallel attempts cannot
  slip past it. A refused attempt (locked, captcha) is not counted.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from services.kit.errors import DomainError

MAX_FAILURES = 5
FIRST_LOCK_S = 60
MAX_LOCK_S = 15 * 60
FORGET_AFTER_S = 12 * 3600
#: Rule 5.
CAPTCHA_AFTER_FAILURES = 3

# KEYS[1]: the subject's hash. ARGV: 1 max failures, 2 first lock (s), 3 longest lock (s),
# 4 forget after (s), 5 captcha after (0: no gate).
# Fields: failures (towards the next lock), streak (since the last success: the captcha gate),
# locks (how many so far: the doubling), locked_until (ms).
# Reply: {0} reserved, {1, ms left} locked, {2} captcha required.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key = KEYS[1]
local v = redis.call('HMGET', key, 'locked_until', 'streak')
local locked_until = tonumber(v[1] or '0')
if locked_until > now then return {1, locked_until - now} end
local captcha_after = tonumber(ARGV[5])
if captcha_after > 0 and tonumber(v[2] or '0') >= captcha_after then return {2, 0} end
redis.call('HINCRBY', key, 'streak', 1)
local failures = redis.call('HINCRBY', key, 'failures', 1)
local lock_ms = 0
if failures >= tonumber(ARGV[1]) then
  local locks = redis.call('HINCRBY', key, 'locks', 1)
  lock_ms = math.min(tonumber(ARGV[2]) * 2 ^ (locks - 1), tonumber(ARGV[3])) * 1000
  redis.call('HSET', key, 'locked_until', now + lock_ms, 'failures', 0)
end
redis.call('PEXPIRE', key, tonumber(ARGV[4]) * 1000 + lock_ms)
return {0, 0}
"""


def key_of(identifier: str) -> str:
    """Rule 4: the counter of an identifier that names no account (normalised, hashed)."""
    return "auth:lock:" + hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:32]


def account_key(account_id: str) -> str:
    """Rule 4: the one counter of an account, whichever identifier named it (hashed too)."""
    return "auth:lock:" + hashlib.sha256(f"account:{account_id}".encode()).hexdigest()[:32]


def subject_key(*, account_id: str | None, identifier: str) -> str:
    """Rule 4: the account's counter when the identifier named one, else the identifier's."""
    return account_key(account_id) if account_id else key_of(identifier)


class Lockout:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(self, key: str, *, captcha_gate: bool = False) -> None:
        """Rules 1, 3 and 5: count one attempt of ``key`` (a `subject_key`) before it is checked,
        or raise ACCOUNT_LOCKED (with retry_after) / CAPTCHA_REQUIRED without counting it.
        ``captcha_gate``: the captcha is on and this attempt has not passed one."""
        outcome, left_ms = (int(x) for x in await self._reserve(keys=[key], args=[
            MAX_FAILURES, FIRST_LOCK_S, MAX_LOCK_S, FORGET_AFTER_S, CAPTCHA_AFTER_FAILURES if captcha_gate else 0]))
        if outcome == 1:
            raise DomainError("locked", code="ACCOUNT_LOCKED", retry_after=-(-left_ms // 1000))
        if outcome == 2:
            raise DomainError("captcha required", code="CAPTCHA_REQUIRED")

    async def succeeded(self, key: str) -> None:
        """Rule 2: the reserved attempt was right: the count, the locks and the streak are gone."""
        await self.redis.delete(key)

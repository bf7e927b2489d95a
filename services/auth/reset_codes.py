"""The code state auth keeps for each password reset, in Redis on Redis' clock (`resets` orders it).

- Rule 1: every reset has a state of its own from its start: the subject it belongs to (the
  account's `lockout.subject_key`, or the unknown identifier's), and a stand-in verification
  with notify's numbers (5 checks, the SMS lifetime of 300 s). A reset whose code was never
  sent (an unknown identifier, a send that failed or has not happened yet) is checked against
  the stand-in, which no code approves: every guess answers exactly as notify answers a wrong
  code (attempts_left 4…0, then exhausted; expired after the lifetime; then no longer pending).
- Rule 2: the real code takes over (`sent`) only while the stand-in has not been guessed at, so
  one reset never mixes two counts; its lifetime then runs from the send.
- Rule 3: a right code given with a weak password (notify has approved, and so spent, it) is
  kept here instead (`approve`): an argon2id hash of it, with the wrong guesses notify counted,
  under the same rules, so the same code completes the reset with a strong password.
- Rule 4: each guess at the stand-in is counted before it is compared (`reserve`, one atomic
  step: at most 5 parallel guesses are compared); a right one gives its count back.
- Rule 5: wrong codes are capped per subject across resets: 20 in 24 h (from the first), then
  every reset of that account (or identifier) answers OTP_ATTEMPTS_EXCEEDED with
  ``retry_after``; a guess takes its place in the cap before it is checked and gives it back
  unless it was checked and wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from services.kit.errors import DomainError

#: Rule 1: notify's numbers (CONTRACT.md §3 "OTP checks", "OTP lifetime").
MAX_CHECKS = 5
CODE_LIFETIME_S = 300
#: Rule 5.
DAILY_WRONG_CODES = 20
CAP_WINDOW_S = 24 * 3600

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op, key = ARGV[1], KEYS[1]
if op == 'open' then
  -- ARGV: 2 subject, 3 max checks, 4 code lifetime (ms), 5 keep (s)
  redis.call('HSET', key, 'subject', ARGV[2], 'via', 'local', 'status', 'pending', 'checks', 0,
             'max_checks', ARGV[3], 'expires_ms', now + tonumber(ARGV[4]), 'code', '')
  redis.call('EXPIRE', key, ARGV[5])
  return {'ok'}
end
if op == 'sent' then
  -- ARGV: 2 code lifetime (ms)
  local v = redis.call('HMGET', key, 'via', 'status', 'checks', 'code')
  if v[1] ~= 'local' or v[2] ~= 'pending' or v[3] ~= '0' or v[4] ~= '' then return {'kept'} end
  redis.call('HSET', key, 'via', 'notify', 'expires_ms', now + tonumber(ARGV[2]))
  return {'ok'}
end
if op == 'approve' then
  -- ARGV: 2 code hash, 3 wrong checks so far
  if redis.call('EXISTS', key) == 0 then return {'not_found'} end
  redis.call('HSET', key, 'via', 'local', 'status', 'pending', 'code', ARGV[2], 'checks', ARGV[3])
  return {'ok'}
end
if op == 'reserve' then
  local v = redis.call('HMGET', key, 'status', 'checks', 'max_checks', 'expires_ms', 'code')
  if not v[1] then return {'not_found', 0, ''} end
  local checks, max_checks = tonumber(v[2]), tonumber(v[3])
  if v[1] == 'max_attempts_reached' or (v[1] == 'pending' and checks >= max_checks) then
    return {'max_attempts_reached', 0, ''}
  end
  if v[1] ~= 'pending' then return {'not_pending', 0, ''} end
  if now >= tonumber(v[4]) then
    redis.call('HSET', key, 'status', 'expired')
    return {'expired', max_checks - checks, ''}
  end
  checks = redis.call('HINCRBY', key, 'checks', 1)
  return {'reserved', max_checks - checks, v[5]}
end
if op == 'release' then
  if redis.call('EXISTS', key) == 1 and tonumber(redis.call('HGET', key, 'checks')) > 0 then
    redis.call('HINCRBY', key, 'checks', -1)
  end
  return {'ok'}
end
if op == 'cap' then
  -- KEYS[1] the subject's cap; ARGV: 2 most wrong codes, 3 window (s)
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2]) then return {'capped', math.max(1, redis.call('PTTL', key))} end
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[3]) end
  return {'ok', 0}
end
if op == 'uncap' then
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
  return {'ok'}
end
return redis.error_reply('unknown operation ' .. op)
"""


def _state_key(reset_id: str) -> str:
    return f"auth:reset:{reset_id}"


def cap_key(subject: str) -> str:
    """Rule 5: the cap of a subject (a hash of its `lockout.subject_key`, itself a hash)."""
    return "auth:reset-wrong:" + hashlib.sha256(subject.encode()).hexdigest()[:32]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Reserved:
    """The outcome of `ResetCodes.reserve`: ``result`` is notify's name of a check's result
    (``reserved`` when the guess may be compared), ``code_hash`` the kept code (empty: none)."""

    result: str
    attempts_left: int
    code_hash: str


class ResetCodes:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._script = redis.register_script(_SCRIPT)

    async def _run(self, key: str, *args: str | int) -> list[str]:
        return [_text(v) for v in await self._script(keys=[key], args=list(args))]

    async def open(self, reset_id: str, *, subject: str, keep_s: int) -> None:
        """Rule 1: the state of a new reset, kept ``keep_s`` (the reset's lifetime)."""
        await self._run(_state_key(reset_id), "open", subject, MAX_CHECKS, CODE_LIFETIME_S * 1000, keep_s)

    async def subject(self, reset_id: str) -> str | None:
        raw = await self._field(reset_id, "subject")
        return _text(raw) if raw is not None else None

    async def via_notify(self, reset_id: str) -> bool:
        """Whether notify checks this reset's code (rule 2) rather than this state (rules 1, 3)."""
        return await self._field(reset_id, "via") == b"notify"

    async def _field(self, reset_id: str, name: str) -> bytes | None:
        # redis-py 5's stubs type a command's result as "awaitable or not" for sync and async alike
        return await cast(Awaitable[bytes | None], self.redis.hget(_state_key(reset_id), name))

    async def sent(self, reset_id: str, *, lifetime_s: int) -> bool:
        """Rule 2: the real code was sent; False when the stand-in keeps the reset."""
        return (await self._run(_state_key(reset_id), "sent", lifetime_s * 1000))[0] == "ok"

    async def approve(self, reset_id: str, *, code_hash: str, attempts_left: int) -> None:
        """Rule 3: keep the right code notify approved (its hash) with its count."""
        await self._run(_state_key(reset_id), "approve", code_hash, max(0, MAX_CHECKS - attempts_left))

    async def reserve(self, reset_id: str) -> Reserved:
        """Rule 4: count a guess before it is compared (or say why it is not compared)."""
        result, left, code_hash = await self._run(_state_key(reset_id), "reserve")
        return Reserved(result, int(left), code_hash)

    async def release(self, reset_id: str) -> None:
        """Rule 4: a right guess gives its count back."""
        await self._run(_state_key(reset_id), "release")

    async def close(self, reset_id: str) -> None:
        await self.redis.delete(_state_key(reset_id))

    async def count_wrong(self, subject: str) -> None:
        """Rule 5: take a place in the subject's cap before a guess is checked, or refuse."""
        outcome, left_ms = await self._run(cap_key(subject), "cap", DAILY_WRONG_CODES, CAP_WINDOW_S)
        if outcome == "capped":
            raise DomainError("too many wrong codes", code="OTP_ATTEMPTS_EXCEEDED",
                              retry_after=-(-int(left_ms) // 1000))

    async def uncount_wrong(self, subject: str) -> None:
        """Rule 5: the guess was not a wrong code (right, or never checked)."""
        await self._run(cap_key(subject), "uncap")

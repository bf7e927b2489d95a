"""Revoked sessions and access tokens, in Redis until the access tokens they cover expire.

Written by auth (logout, refresh-token theft, password reset), read by the gateway on every
authenticated request (one ``EXISTS`` of two keys, in the same round trip as the caller's
membership stamp, ``freshness``).
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

PREFIX = "auth:revoked:"


def session_key(session_id: str) -> str:
    return f"{PREFIX}sid:{session_id}"


def token_key(jti: str) -> str:
    return f"{PREFIX}jti:{jti}"


async def revoke_session(redis: Redis, session_id: str, *, access_ttl_s: int) -> None:
    """Every access token of the session dies (kept as long as any of them could still be valid)."""
    await redis.set(session_key(session_id), b"1", ex=access_ttl_s + 60)


async def revoke_token(redis: Redis, jti: str, ttl_s: int) -> None:
    await redis.set(token_key(jti), b"1", ex=max(1, ttl_s))


def queue_is_revoked(pipe: Pipeline, *, session_id: str, jti: str) -> None:
    """Whether the session or the token is revoked, queued on a pipeline (its result: a count,
    non-zero when revoked)."""
    pipe.exists(session_key(session_id), token_key(jti))

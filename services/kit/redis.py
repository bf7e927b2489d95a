"""Redis client with short timeouts: a Redis that does not answer is an error, never a hang."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.kit.startup import StartupError


def open_redis(url: str, *, timeout_s: float = 1.0, max_connections: int = 128, pool_wait_s: float = 3.0
               ) -> Redis:
    """A client whose pool holds at most ``max_connections``; a burst beyond that waits up to
    ``pool_wait_s`` for a free connection (then fails like a Redis that does not answer) instead
    of failing at once. A Redis that does not answer fails after ``timeout_s``."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_wait_s, socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0), health_check_interval=30,
        decode_responses=False)
    return Redis(connection_pool=pool)


async def check_redis(client: Redis, url: str) -> None:
    """Stop start-up with one line when Redis cannot be reached."""
    try:
        await client.ping()
    except Exception as error:  # noqa: BLE001
        where = url.rpartition("@")[2].removeprefix("redis://")
        raise StartupError(f"cannot reach Redis at {where}: {type(error).__name__}") from error

"""Redis client with short timeouts: a Redis that does not answer is an error, never a hang."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry
from redis.typing import EncodableT, KeyT

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


class PipelinedScript:
    """A Lua script that many concurrent tasks call, sent to Redis in pipelines: the calls made in
    one turn of the event loop go out together at the start of the next (one connection from the
    pool, one write and one read for all of them), as Redis clients that pipeline automatically
    do. A call alone goes out just as soon. Each call gets its own reply or its own error; a Redis
    that fails fails every call of the batch (as it would have one by one). A script the server
    does not know (restarted, flushed) is loaded again and the batch's calls are sent once more."""

    def __init__(self, client: Redis, script: str):
        self.client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        self._pending: list[tuple[tuple[EncodableT, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: Sequence[KeyT], args: Sequence[EncodableT]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append(((len(keys), *keys, *args), future))
        return await future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._run(batch))
        self._sending.add(task)  # held until done (the loop keeps only weak references)
        task.add_done_callback(self._sending.discard)

    async def _run(self, batch: list[tuple[tuple[EncodableT, ...], asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._execute([call for call, _ in batch])
            if any(isinstance(reply, NoScriptError) for reply in replies):
                await self.client.script_load(self.script)
                replies = await self._execute([call for call, _ in batch])
        except BaseException as error:  # noqa: BLE001 - every caller of the batch gets the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller went away (a client that disconnected)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, calls: list[tuple[EncodableT, ...]]) -> list[Any]:
        async with self.client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self.sha, *call)  # type: ignore[arg-type]  # numkeys first, then keys and args
            return await pipe.execute(raise_on_error=False)

"""Redis client with short timeouts: a Redis that does not answer is an error, never a hang."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ResponseError
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
    that fails fails every call of the batch (as it would have one by one), and a connection that
    failed mid-batch is dropped, never reused. A script the server does not know (restarted,
    flushed) is loaded again and only the calls it refused are sent once more.

    The commands are written as RESP here (`pack_evalsha`) rather than by redis-py's pipeline, whose
    per-argument encoding cost more than the rest of a call (an OTP issue has 28 arguments)."""

    def __init__(self, client: Redis, script: str):
        self.client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        self._head = b"$7\r\nEVALSHA\r\n$40\r\n" + self.sha.encode() + b"\r\n"
        self._pending: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: Sequence[KeyT], args: Sequence[EncodableT]) -> Any:
        command = pack_evalsha(self._head, keys, args)  # a value Redis has no text for fails here, alone
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append((command, future))
        return await future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._run(batch))
        self._sending.add(task)  # held until done (the loop keeps only weak references)
        task.add_done_callback(self._sending.discard)

    async def _run(self, batch: list[tuple[bytes, asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._execute([command for command, _ in batch])
            forgotten = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if forgotten:
                await self.client.script_load(self.script)
                again = await self._execute([batch[i][0] for i in forgotten])
                for index, reply in zip(forgotten, again, strict=True):
                    replies[index] = reply
        except BaseException as error:  # noqa: BLE001 - every caller of the batch gets the failure
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller went away (a client that disconnected, a deadline)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, commands: list[bytes]) -> list[Any]:
        """Send the packed commands on one pooled connection and read one reply (or error) each."""
        pool = self.client.connection_pool
        connection = await pool.get_connection("EVALSHA")
        try:
            await connection.send_packed_command(b"".join(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:  # that call's own error (a refusal, NOSCRIPT, OOM)
                    replies.append(error)
        except BaseException:
            await connection.disconnect()  # its stream is mid-reply: never hand it out again
            raise
        finally:
            await pool.release(connection)
        return replies


def pack_evalsha(head: bytes, keys: Sequence[KeyT], args: Sequence[EncodableT]) -> bytes:
    """``EVALSHA <sha> <numkeys> <keys…> <args…>`` in RESP (``head``: the command and the sha, packed).
    Text is UTF-8, numbers their decimal text (floats with ``repr``), as redis-py encodes them."""
    parts = [b"*%d\r\n" % (3 + len(keys) + len(args)), head]
    for value in (len(keys), *keys, *args):
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str):
            data = value.encode()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            data = repr(value).encode()
        else:
            raise TypeError(f"cannot send {type(value).__name__} to Redis")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)

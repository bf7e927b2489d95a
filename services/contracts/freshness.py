"""Read-your-writes for a cached membership read: a stamp per participant, in Redis.

How a participant's own change (a payment, an FKTP change, a new family member, a status the
monthly roll changed) is on their very next read, on any gateway replica:

- Rule 1: a reader reads the participant's stamp *before* it asks membership, and keeps the answer
  under that stamp. If the participant has no stamp, the reader makes one (a random number, ``SET
  NX``: the first reader's wins, every other reader gets it).
- Rule 2: membership, after the transaction of any change a membership read shows has committed
  and before it answers, deletes the stamp of every member of the family concerned.
- Rule 3: a cached answer is served only while the participant's stamp is the one it was kept
  under. An answer read before a commit was kept under a stamp that the commit's deletion ends
  (a later stamp is a new random number), so no read after the change can be served from before it.
- Rule 4: a stamp lives a day (``STAMP_TTL_S``); its end is only a cache miss. A cached answer is
  also dropped after ``MAX_AGE_S`` whatever its stamp, which bounds the staleness if Redis lost a
  deletion (membership counts those: ``membership_freshness_failures_total``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

PREFIX = "membership:stamp:"
STAMP_TTL_S = 86_400
MAX_AGE_S = 60.0


def stamp_key(noka: str) -> str:
    return f"{PREFIX}{noka}"


def new_stamp() -> bytes:
    return str(secrets.randbits(62)).encode()


def read_stamp(pipe: Pipeline, noka: str, candidate: bytes) -> None:
    """Rule 1, queued on ``pipe``: its result is the stamp, or None when ``candidate`` became it."""
    pipe.set(stamp_key(noka), candidate, nx=True, get=True, ex=STAMP_TTL_S)


def stamp_from(result: bytes | None, candidate: bytes) -> bytes:
    """The participant's stamp from `read_stamp`'s result."""
    return candidate if result is None else result


async def expire(redis: Redis, nokas: Iterable[str]) -> None:
    """Rule 2 (the caller has committed): every read of these participants asks membership again."""
    keys = [stamp_key(noka) for noka in nokas]
    if keys:
        await redis.delete(*keys)

"""``contracts.freshness`` rule 2 for membership: once a change that a membership read shows has
committed (a status, an FKTP, a family), the stamps of every member of the families concerned
are deleted, before the change is answered — so the gateway's cached reads of any of them end.

Which changes: a payment that activates a family (`billing.settle`), an FKTP change requested
(`fktp_changes.request`) and applied (`jobs.apply_fktp_changes`), a family lapsing into arrears
(`jobs.roll_bills`). An enrolment makes new participants, who have no stamp yet.

Redis failing here does not undo or fail the change: it is logged and counted
(``membership_freshness_failures_total``), and a cached read lasts ``freshness.MAX_AGE_S`` at most.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.contracts import freshness
from services.kit.logs import get_logger
from services.membership import metrics, store

log = get_logger("jkn.membership.stamps")


class Stamps:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def expire_families_of(self, pool: asyncpg.Pool | asyncpg.Connection, nokas: Collection[str]) -> None:
        """Every member of the families of ``nokas`` reads membership afresh (call after the commit)."""
        if not nokas:
            return
        try:
            await freshness.expire(self.redis, await store.family_nokas_of(pool, nokas=list(nokas)))
        except (RedisError, OSError) as error:
            metrics.FRESHNESS_FAILURES.inc()
            log.warning("stamps_not_expired", extra={"error": type(error).__name__, "participants": len(nokas)})

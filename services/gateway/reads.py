"""Cached answers of ``GET /v1/me/membership``, each kept under the participant's stamp.

Served only while the stamp read for this request (with the revocation check, before membership
would be asked) is the one the answer was kept under, and for at most ``max_age_s``
(``contracts.freshness`` rules 1–4): a participant's own change is on their very next read, on
any replica. What is kept is the response body as sent, per replica, bounded in entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter

from services.contracts import freshness

READS = Counter("gateway_membership_reads_total", "GET /v1/me/membership answers, by where they came from "
                "(cache, membership).", ["source"])
_HIT, _MISS = READS.labels("cache"), READS.labels("membership")


class MembershipReads:
    def __init__(self, *, max_entries: int = 20_000, max_age_s: float = freshness.MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.max_entries, self.max_age_s, self.clock = max_entries, max_age_s, clock
        self._entries: dict[str, tuple[bytes, float, bytes]] = {}  # NOKA → (stamp, kept at, body)

    def get(self, noka: str, stamp: bytes | None) -> bytes | None:
        """The body kept for ``noka`` under ``stamp`` and not too old (None: ask membership)."""
        entry = self._entries.get(noka) if stamp is not None else None
        if entry is None or entry[0] != stamp or self.clock() - entry[1] >= self.max_age_s:
            _MISS.inc()
            return None
        _HIT.inc()
        return entry[2]

    def put(self, noka: str, stamp: bytes | None, body: bytes) -> None:
        if stamp is None:
            return
        if len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 2]:  # dicts keep insertion order
                del self._entries[old]
        self._entries[noka] = (stamp, self.clock(), body)

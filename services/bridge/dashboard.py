"""The waiting-time dashboard of Antrean RS (``dashboard/waktutunggu``, CONTRACT.md §8).

Rule: per poli, for tasks 1–6, the time of task n is how long the step it starts lasted — from
task n to task n+1 — in seconds; ``waktu_taskN`` is the sum over the day's bookings that have
both times, ``avg_waktu_taskN`` its mean (0 when none). ``jumlah_antrean`` counts the poli's
bookings of the day that were not cancelled. ``waktu/rs`` reads the times the hospital
reported; ``waktu/server`` the times the platform received them (so a hospital whose clock is
off, or that sends its tasks late in a batch, shows different spans in the two).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from jkn.queue.v1 import partner_pb2, queue_pb2
from services.bridge.views import received_times

STEPS = range(1, 7)


def waiting_times(registrations: list[partner_pb2.Registration], *, facility: str, day: str,
                  server_times: bool = False) -> dict[str, Any]:
    """The rule."""
    by_poli: dict[str, list[partner_pb2.Registration]] = defaultdict(list)
    for reg in registrations:
        if reg.booking.status != queue_pb2.BOOKING_STATUS_CANCELLED:
            by_poli[reg.booking.poli.code].append(reg)
    rows = []
    for poli in sorted(by_poli):
        regs = by_poli[poli]
        row: dict[str, Any] = {"kdppk": facility, "kodepoli": poli, "namapoli": regs[0].booking.poli.name,
                               "tanggal": day, "jumlah_antrean": len(regs)}
        for step in STEPS:
            spans = []
            for reg in regs:
                stamps = received_times(reg) if server_times else {int(t.task_id): t.at for t in reg.booking.tasks}
                times = {i: at.ToMilliseconds() for i, at in stamps.items()}
                if step in times and step + 1 in times:
                    spans.append((times[step + 1] - times[step]) / 1000)
            row[f"waktu_task{step}"] = round(sum(spans))
            row[f"avg_waktu_task{step}"] = round(sum(spans) / len(spans)) if spans else 0
        rows.append(row)
    return {"list": rows}

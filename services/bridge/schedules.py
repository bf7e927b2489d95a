"""How a BPJS weekly schedule update (``jadwaldokter/updatejadwaldokter``) becomes partner calls.

- Rule 1: ``jadwal`` lists weekdays (``hari`` 1 = Monday … 7 = Sunday, each at most once) with
  opening and closing times ``buka`` < ``tutup``; the update applies from tomorrow (BPJS approves
  changes overnight): one `UpsertWeeklySchedule` per distinct pair of times, valid from tomorrow,
  with the doctor's current quotas.
- Rule 2: a weekday the doctor practised in the coming week and that ``jadwal`` leaves out is
  closed: each of its dates from tomorrow through the booking window (30 days ahead) is closed
  with `UpsertSchedule` ``closed=true``, which follows a doctor's absence (CONTRACT.md §7: the
  bookings cancelled as ``DOCTOR_ABSENT``, the patients told with an alternative).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from services.bridge.answers import Refusal, refused

#: The booking window's last day, counted from tomorrow (CONTRACT.md §3: up to 30 days ahead).
HORIZON_DAYS = 30


@dataclass(frozen=True)
class Hours:
    weekdays: tuple[int, ...]
    start: str
    end: str


def _hhmm(value: str) -> str | None:
    parts = value.strip().split(":")
    if len(parts) < 2 or not all(p.isdigit() and len(p) == 2 for p in parts[:2]):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    return f"{hours:02d}:{minutes:02d}" if hours < 24 and minutes < 60 else None


def weekly_hours(jadwal: list[tuple[int, str, str]]) -> list[Hours]:
    """Rule 1: the (hari, buka, tutup) items grouped by their times, or a refusal naming the item."""
    seen: set[int] = set()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for day, opens, closes in jadwal:
        start, end = _hhmm(opens), _hhmm(closes)
        if not 1 <= day <= 7 or day in seen:
            raise refused("hari harus 1 (Senin) sampai 7 (Minggu), masing-masing sekali", "VALIDATION_ERROR")
        if start is None or end is None or start >= end:
            raise refused("buka dan tutup harus jam HH:MM dengan buka sebelum tutup", "VALIDATION_ERROR")
        seen.add(day)
        groups[(start, end)].append(day)
    return [Hours(tuple(sorted(days)), start, end) for (start, end), days in sorted(groups.items())]


def dates_to_close(*, practised: set[int], kept: set[int], tomorrow: date) -> list[date]:
    """Rule 2."""
    dropped = practised - kept
    days = (tomorrow + timedelta(days=n) for n in range(HORIZON_DAYS))
    return [d for d in days if d.isoweekday() in dropped]


def no_current_schedule() -> Refusal:
    return refused("Dokter belum memiliki jadwal di poli ini; daftarkan jadwal dan kuota lewat API mitra",
                   "NOT_FOUND")

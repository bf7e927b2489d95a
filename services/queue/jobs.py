"""Queue's periodic work: no-shows after a session ends, reminders the evening before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from opentelemetry import trace

from services.kit.logs import get_logger
from services.queue import events, metrics, rules, store

log = get_logger("jkn.queue.jobs")
tracer = trace.get_tracer("jkn.queue.jobs")  # one trace per job run, its events inside


async def mark_no_shows(pool: asyncpg.Pool, now: datetime) -> int:
    """No-show rule: a booking still BOOKED after its session ended becomes NO_SHOW."""
    async with pool.acquire() as conn, conn.transaction():
        lapsed = await store.mark_no_shows(conn, now=now)
        for row in lapsed:
            view = await store.booking(conn, row["code"])
            assert view is not None
            await events.publish(conn, "booking_no_show", view)
    if lapsed:
        metrics.CANCELLATIONS.labels("no_show").inc(len(lapsed))
        log.info("bookings_no_show", extra={"count": len(lapsed)})
    return len(lapsed)


async def send_reminders(pool: asyncpg.Pool, now: datetime) -> int:
    """Reminder rule (`rules.reminder_due`): from 18:00 the evening before, once per booking."""
    tomorrow = now.astimezone(rules.JAKARTA).date() + timedelta(days=1)
    if not rules.reminder_due(visit_date=tomorrow, now=now):
        return 0
    sent = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await store.due_reminders(conn, day=tomorrow)
            for row in due:
                view = await store.booking(conn, row["code"])
                assert view is not None
                await events.publish(conn, "booking_reminder", view)
        sent += len(due)
        if not due:
            break
    if sent:
        log.info("booking_reminders_sent", extra={"count": sent})
    return sent


async def run_periodically(pool: asyncpg.Pool, now: Callable[[], datetime], *, every_s: float = 60) -> None:
    """Both jobs at start and then every ``every_s`` (idempotent; safe on many replicas)."""
    while True:
        for job in (mark_no_shows, send_reminders):
            try:
                with tracer.start_as_current_span(f"{job.__name__} run", attributes={"jkn.job": job.__name__}):
                    await job(pool, now())
            except Exception as error:  # noqa: BLE001 - the next round tries again
                log.warning("queue_job_failed", extra={"job": job.__name__, "error": type(error).__name__})
        await asyncio.sleep(every_s)

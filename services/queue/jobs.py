"""Queue's periodic work: no-shows after a session ends, reminders the evening before, waitlist
offers whose hold ran out and entries whose date has passed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from services.kit.clock import JAKARTA
from services.kit.logs import get_logger
from services.queue import events, metrics, rules, store, waitlist

log = get_logger("jkn.queue.jobs")


async def mark_no_shows(pool: asyncpg.Pool, now: datetime) -> int:
    """No-show rule: a booking still BOOKED after its session ended becomes NO_SHOW."""
    async with pool.acquire() as conn, conn.transaction():
        lapsed = await store.mark_no_shows(conn, now=now)
        for row in lapsed:
            await events.announce(conn, row["code"], events.BookingNoShow)
    if lapsed:
        metrics.CANCELLATIONS.labels("no_show").inc(len(lapsed))
        log.info("bookings_no_show", extra={"count": len(lapsed)})
    return len(lapsed)


async def send_reminders(pool: asyncpg.Pool, now: datetime) -> int:
    """Reminder rule (`rules.reminder_due`): from 18:00 the evening before, once per booking."""
    tomorrow = now.astimezone(JAKARTA).date() + timedelta(days=1)
    if not rules.reminder_due(visit_date=tomorrow, now=now):
        return 0
    sent = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await store.due_reminders(conn, day=tomorrow)
            for row in due:
                await events.announce(conn, row["code"], events.BookingReminder)
        sent += len(due)
        if not due:
            break
    if sent:
        log.info("booking_reminders_sent", extra={"count": sent})
    return sent


def waitlist_jobs(handoff: waitlist.Handoff) -> list[Callable[[asyncpg.Pool, datetime], Awaitable[int]]]:
    """The waitlist's jobs (they need membership to check the next entry given a seat)."""

    async def expire_waitlist_offers(pool: asyncpg.Pool, now: datetime) -> int:
        """Waitlist rule 3: an offer not accepted within its hold expires; the seat passes on."""
        expired = await waitlist.expire_offers(pool, handoff, now=now)
        if expired:
            log.info("waitlist_offers_expired", extra={"count": expired})
        return expired

    async def end_past_waitlist_entries(pool: asyncpg.Pool, now: datetime) -> int:
        """Waitlist rule 4: entries for a date that has passed end as EXPIRED."""
        ended = await waitlist.end_past_entries(pool, today=now.astimezone(JAKARTA).date())
        if ended:
            log.info("waitlist_entries_date_passed", extra={"count": ended})
        return ended

    return [expire_waitlist_offers, end_past_waitlist_entries]

"""Membership's payment events become "payment received" SMS requests for the family's accounts."""

from __future__ import annotations

import json

import asyncpg

from jkn.notify.v1 import notify_pb2
from services.auth.app import MIGRATIONS
from services.auth.notifications import on_membership_event
from services.auth.passwords import Hasher
from services.auth.seed import seeder
from services.kit import db
from services.kit.consumer import Event


async def test_payment_received_is_sent_to_each_account_of_the_family(fresh_database):
    dsn = fresh_database("auth_notify")
    await db.migrate(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await seeder(Hasher(memory_kib=19_456, time_cost=2, parallelism=1))(conn, None)
        event = Event(event_id="e1", event_type="payment_received", topic="membership.events", key="7",
                      payload=json.dumps({"payment_id": "p-1", "amount_idr": 150000, "periods": ["2026-11"],
                                          "nokas": ["0005678900007", "0009999999999"]}).encode())
        async with conn.transaction():
            await on_membership_event(event, conn)
            await on_membership_event(Event("e2", "status_changed", "membership.events", None, b"{}"), conn)
        rows = await conn.fetch("SELECT topic, payload FROM outbox")
    finally:
        await conn.close()
    assert len(rows) == 1 and rows[0]["topic"] == "notify.requests"
    request = notify_pb2.NotificationRequest.FromString(rows[0]["payload"])
    assert request.template == notify_pb2.NOTIFICATION_TEMPLATE_PAYMENT_RECEIVED
    assert request.to == "+6281234500007" and request.params["amount"] == "150.000"

"""Delivery status of each send and the same code on another channel (services/notify/otp_state.lua,
otp_store.py, delivery.py; CONTRACT.md §7) against a real Redis and Postgres: a send moves only
forwards, the verification shows its latest send, a failed SMS leaves the code usable by email
under that address's own cooldown and caps, and a send the worker keeps failing ends FAILED."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.kit import db
from services.kit.consumer import Event
from services.kit.redis import open_redis
from services.notify import otp
from services.notify.app import MIGRATIONS
from services.notify.delivery import Delivery
from services.notify.otp_store import Limits, OtpSendRefused, OtpStore
from services.notify.providers import DevOutbox, Outgoing, ProviderError
from tests.notify.test_otp_store import KEY, check, issue, send_for

EMAIL = "fallback@example.id"


@pytest.fixture
async def store(redis_url):
    client = open_redis(redis_url)
    yield OtpStore(client, limits=Limits(destination_10m=2), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    await client.aclose()


def by_email(vid: str, n: int) -> dict:
    return {"send": send_for(vid, n), "other": ("email", EMAIL, otp.destination_hash(KEY, EMAIL))}


async def resend(store: OtpStore, vid: str, **kwargs):
    return await store.resend(verification_id=vid, purpose="registration", flow_id="flow-1", client_ip="10.0.0.1",
                              number_prefix="", **kwargs)


async def test_a_send_moves_only_forwards_and_the_verification_shows_its_latest_send(store):
    vid, _, _ = await issue(store)
    first = f"otp:{vid}:1"
    assert (await store.load(vid))["delivery_status"] == "queued"
    sent = await store.record_delivery(first, status="sent", provider="http_sms")
    assert sent is not None and (sent.changed, sent.status, sent.verification_id, sent.channel, sent.purpose) == (
        True, "sent", vid, "sms", "registration")
    assert (await store.record_delivery(first, status="sent", provider="http_sms")).changed is False  # a repeat
    failed = await store.record_delivery(first, status="failed", provider="http_sms")  # undelivered after all
    assert failed.changed and (await store.load(vid))["delivery_status"] == "failed"
    late = await store.record_delivery(first, status="sent", provider="http_sms")  # never backwards
    assert (late.changed, late.status) == (False, "failed")
    assert await store.record_delivery("otp:nobody:1", status="sent", provider="http_sms") is None


async def test_after_a_failed_sms_the_same_code_goes_by_email_under_that_addresses_own_limits(store):
    vid, nonce, _ = await issue(store)
    await store.record_delivery(f"otp:{vid}:1", status="failed", provider="dev_outbox")
    await resend(store, vid, **by_email(vid, 2))  # no SMS cooldown in the way: another destination
    state = await store.load(vid)
    assert (state["status"], state["last_channel"], state["last_destination"], state["delivery_status"]) == (
        "pending", "email", EMAIL, "queued")
    with pytest.raises(OtpSendRefused) as too_soon:
        await resend(store, vid, **by_email(vid, 3))
    assert too_soon.value.rule == "resend_cooldown"
    with pytest.raises(OtpSendRefused) as sms_too_soon:
        await resend(store, vid, send=send_for(vid, 3))  # the SMS's own cooldown still runs too
    assert sms_too_soon.value.rule == "resend_cooldown"
    # the email's sends are counted against the email: a second verification to it hits its cap
    other, _, _ = await issue(store, destination="+6281234500099")
    await resend(store, other, **by_email(other, 2))
    third, _, _ = await issue(store, destination="+6281234500098")
    with pytest.raises(OtpSendRefused) as capped:
        await resend(store, third, **by_email(third, 2))
    assert capped.value.rule == "destination_10m"
    # a failed send does not kill the verification: the code is the same and checks out
    assert (await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))).result == "approved"


class Refusing(DevOutbox):
    """A provider that answers every message with ``error`` (and records nothing)."""

    def __init__(self, error: ProviderError):
        self.error, self.calls = error, 0

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        self.calls += 1
        raise self.error


def code_request(vid: str, n: int = 1) -> Event:
    request = notify_pb2.NotificationRequest(
        request_id=f"otp:{vid}:{n}", template=notify_pb2.NOTIFICATION_TEMPLATE_OTP_CODE,
        channel=common_pb2.CHANNEL_SMS, to="+6281234500006", params={"verification_id": vid}, source="notify")
    return Event(event_id=request.request_id, event_type="x", topic="notify.requests", key=None,
                 payload=request.SerializeToString())


@pytest.fixture
async def pool(fresh_database):
    dsn = fresh_database("notify_status")
    await db.migrate(dsn, MIGRATIONS)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_a_refusal_fails_the_send_at_once_and_is_not_retried(store, pool):
    vid, _, _ = await issue(store)
    provider = Refusing(ProviderError("dead number", permanent=True))
    delivery = Delivery(store=store, keys=[KEY], providers={"sms": [provider], "email": []}, pool=pool)
    async with pool.acquire() as conn:
        await delivery.handle(code_request(vid), conn)  # handled: nothing for the consumer to retry
    assert provider.calls == 1 and (await store.load(vid))["delivery_status"] == "failed"
    assert (await store.load(vid))["status"] == "pending"
    published = await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'notify.events'")
    assert published == 1


async def test_a_send_that_keeps_failing_is_failed_on_the_last_attempt_only(store, pool):
    vid, _, _ = await issue(store)
    provider = Refusing(ProviderError("gateway answered 503"))
    delivery = Delivery(store=store, keys=[KEY], providers={"sms": [provider], "email": []}, pool=pool,
                        max_attempts=3)
    statuses = []
    for _ in range(3):
        async with pool.acquire() as conn:
            with pytest.raises(ProviderError):
                await delivery.handle(code_request(vid), conn)
        statuses.append((await store.load(vid))["delivery_status"])
    assert statuses == ["queued", "queued", "failed"]


async def test_parallel_reports_of_one_send_change_it_once(store):
    vid, _, _ = await issue(store)
    changes = await asyncio.gather(*(store.record_delivery(f"otp:{vid}:1", status="failed", provider="http_sms")
                                     for _ in range(20)))
    assert sum(c.changed for c in changes if c) == 1

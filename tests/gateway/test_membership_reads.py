"""``GET /v1/me/membership`` is cached per gateway replica, and a participant's own change is on
their very next read on any replica (``contracts.freshness``): two gateway apps share one Redis,
in front of real auth and membership services with the demo data."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.contracts import freshness
from services.gateway.reads import MembershipReads
from services.kit.clock import jakarta_now, jakarta_today
from services.kit.redis import open_redis
from services.kit.signing import load_signing_keys
from services.membership import jobs
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.membership.stamps import Stamps
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests.factories import access_token

SITI = "0002345678904"  # TIDAK_AKTIF: three months in arrears
DEWI = "0004567890006"


@pytest.fixture
async def seeded(service, redis_url):
    today = jakarta_today()
    async with (service(AuthSettings, build_auth) as auth,
                service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today) as queue,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today,
                        queue_addr=queue.address) as membership):
        yield {"addresses": {"auth": auth.address, "queue": queue.address, "membership": membership.address},
               "membership_dsn": membership.settings.database_dsn, "redis_url": redis_url}


def bearer(noka: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(load_signing_keys('dev-jwt-signing-key')[0], noka=noka)}"}


def reads(source: str) -> float:
    return REGISTRY.get_sample_value("gateway_membership_reads_total", {"source": source}) or 0.0


async def test_a_payment_is_on_the_very_next_read_on_either_replica(seeded, gateway_client):
    addresses = seeded["addresses"]
    async with gateway_client(addresses) as (_, first), gateway_client(addresses) as (_, second):
        siti = bearer(SITI)
        before = (await first.get("/v1/me/membership", headers=siti)).json()
        assert before["participant"]["status"] == "TIDAK_AKTIF" and not before["all_family_active"]
        cached = reads("cache")
        for client in (first, second, first):
            again = await client.get("/v1/me/membership", headers=siti)
            assert again.status_code == 200 and again.json() == before
        assert reads("cache") - cached >= 2  # each replica keeps its own answer

        payment = (await first.post("/v1/me/payments", json={}, headers=siti)).json()
        body = json.dumps({"payment_id": payment["payment_id"], "virtual_account": payment["virtual_account"],
                           "amount": payment["amount"], "provider_ref": "PRV-READS-1",
                           "paid_at": jakarta_now().isoformat()}).encode()
        signature = hmac.new(b"dev-payment-secret", body, hashlib.sha256).hexdigest()
        paid = await first.post("/v1/payment-callbacks", content=body, headers={"X-Signature": signature})
        assert paid.status_code == 200, paid.text

        for client in (second, first):
            after = (await client.get("/v1/me/membership", headers=siti)).json()
            assert after["participant"]["status"] == "AKTIF" and after["all_family_active"], client


async def test_an_fktp_change_applied_by_the_monthly_job_is_on_the_next_read(seeded, gateway_client):
    addresses = seeded["addresses"]
    async with gateway_client(addresses) as (_, client):
        dewi = bearer(DEWI)
        assert (await client.get("/v1/me/membership", headers=dewi)).json()["participant"]["fktp"]["code"] == "0114U001"
        today = jakarta_today()
        pool = await asyncpg.create_pool(seeded["membership_dsn"], min_size=1, max_size=2)
        redis = open_redis(seeded["redis_url"])
        try:
            await pool.execute(
                "INSERT INTO fktp_changes (participant_id, from_code, to_code, to_name, requested_on, effective_date)"
                " SELECT id, fktp_code, '0114U002', 'Klinik Pratama Cikini', $2, $2 FROM participants"
                " WHERE noka = $1", DEWI, today - timedelta(days=1))
            assert (await client.get("/v1/me/membership", headers=dewi)).json()["participant"]["fktp"][
                "code"] == "0114U001"  # requested behind membership's back: still the cached answer
            assert await jobs.apply_fktp_changes(pool, today, stamps=Stamps(redis)) == 1
        finally:
            await pool.close()
            await redis.aclose()
        assert (await client.get("/v1/me/membership", headers=dewi)).json()["participant"]["fktp"]["code"] == "0114U002"


# --- the cache by itself -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_served_only_under_its_stamp_and_for_its_maximum_age():
    clock = Clock()
    cache = MembershipReads(max_age_s=60, clock=clock)
    cache.put(DEWI, b"1", b"{}")
    assert cache.get(DEWI, b"1") == b"{}"
    assert cache.get(DEWI, b"2") is None  # the stamp changed: a change committed since
    assert cache.get(SITI, b"1") is None
    clock.now += 60
    assert cache.get(DEWI, b"1") is None
    cache.put(SITI, None, b"{}")  # no stamp (a token without a NOKA): never kept
    assert cache.get(SITI, None) is None


def test_the_cache_stays_within_its_bound():
    cache = MembershipReads(max_entries=10)
    for n in range(25):
        cache.put(f"{n:013d}", b"1", b"{}")
    assert len(cache._entries) <= 10 and cache.get(f"{24:013d}", b"1") == b"{}"


def test_a_new_stamp_is_a_fresh_random_number():
    stamps = {freshness.new_stamp() for _ in range(100)}
    assert len(stamps) == 100 and all(s.isdigit() for s in stamps)

"""Billing (`billing`): a payment for a family's arrears (the open one again, or a new one superseding
it), and the provider's callback settling it — the bills paid, the family AKTIF, what is announced,
what is kept for reconciliation, and the guards under racing requests — against membership's real
database (demo data: Siti owes three past-due months of Rp35,000, whatever the day)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid

import pytest
from prometheus_client import REGISTRY

from jkn.membership.v1 import events_pb2, membership_pb2
from services.kit.clock import jakarta_now, jakarta_today
from services.kit.errors import DomainError
from services.kit.events import event_type
from services.membership import billing

SITI = "0002345678904"  # TIDAK_AKTIF, three unpaid months of Rp35,000 (CONTRACT.md §6)
RUDI = "0005678900007"  # PBPU class 1, every bill paid
SECRET = "test-payment-secret"


def signed(payment, *, ref: str, **change) -> tuple[bytes, str]:
    body = json.dumps({"payment_id": str(payment["id"]), "virtual_account": payment["virtual_account"],
                       "amount": payment["amount_idr"], "paid_at": jakarta_now().isoformat(),
                       "provider_ref": ref, **change}).encode()
    return body, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def settle(pool, payment, *, ref: str, **change) -> billing.Settlement:
    body, signature = signed(payment, ref=ref, **change)
    return await billing.settle(pool, secret=SECRET, raw_body=body, signature=signature, today=jakarta_today())


async def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("membership_payments_total", {"result": result}) or 0.0


def counters() -> dict[str, float]:
    names = ("created", "reused", "paid", "settled_late", "paid_again", "duplicate", "rejected")
    values = {name: counted(name) for name in names}
    values["reconciliations"] = sum(
        REGISTRY.get_sample_value("membership_payment_reconciliations_total", {"outcome": outcome}) or 0.0
        for outcome in ("paid", "settled_late", "paid_again"))
    values["overpaid_idr"] = REGISTRY.get_sample_value("membership_payment_overpaid_amount_idr_total") or 0.0
    values["received_idr"] = REGISTRY.get_sample_value("membership_payment_amount_idr_total") or 0.0
    return values


def moved(before: dict[str, float]) -> dict[str, float]:
    return {name: value - before[name] for name, value in counters().items() if value != before[name]}


async def siti_periods(pool) -> list[str]:
    return sorted(b["period"] for b in (await billing.bills(pool, noka=SITI, today=jakarta_today())).bills
                  if b["status"] == "UNPAID")


async def payment_row(pool, payment_id):
    return await pool.fetchrow("SELECT status, superseded_by, provider_ref FROM payments WHERE id = $1", payment_id)


async def receipts(pool) -> list[tuple[str, str, int, bool]]:
    rows = await pool.fetch("SELECT provider_ref, outcome, overpaid_idr, needs_reconciliation FROM payment_receipts"
                            " ORDER BY received_at, provider_ref")
    return [(r["provider_ref"], r["outcome"], r["overpaid_idr"], r["needs_reconciliation"]) for r in rows]


async def outbox_types(pool) -> list[str]:
    return [r["event_type"] for r in await pool.fetch("SELECT event_type FROM outbox ORDER BY id")]


async def siti_status(pool) -> str:
    return await pool.fetchval("SELECT status FROM participants WHERE noka = $1", SITI)


# --- paying the arrears ----------------------------------------------------------------------------------------


async def test_paying_every_arrear_activates_the_family_and_announces_payment_and_status(membership_db):
    before = counters()
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    assert payment["amount_idr"] == 105_000 and len(payment["periods"]) == 3
    body, signature = signed(payment, ref="PRV-BILLING-1")

    settled = await billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                                   today=jakarta_today())
    assert settled == billing.Settlement(payment_id=str(payment["id"]), replayed=False, amount_idr=105_000,
                                         outcome="paid", overpaid_idr=0)
    assert (await billing.bills(membership_db, noka=SITI, today=jakarta_today())).arrears_total_idr == 0
    family_id = await membership_db.fetchval("SELECT family_id FROM participants WHERE noka = $1", SITI)
    rows = await membership_db.fetch("SELECT key, event_type, payload FROM outbox ORDER BY id")
    assert [(r["key"].decode(), r["event_type"]) for r in rows] == [
        (str(family_id), event_type(events_pb2.PaymentReceived)), (SITI, event_type(events_pb2.StatusChanged))]
    received = events_pb2.PaymentReceived.FromString(rows[0]["payload"])
    assert (received.payment_id, received.amount_idr, list(received.nokas)) == (str(payment["id"]), 105_000, [SITI])
    assert sorted(received.periods) == sorted(payment["periods"])
    assert events_pb2.StatusChanged.FromString(rows[1]["payload"]) == events_pb2.StatusChanged(
        noka=SITI, status=membership_pb2.PARTICIPANT_STATUS_AKTIF,
        status_reason=membership_pb2.STATUS_REASON_UNSPECIFIED)
    assert await receipts(membership_db) == [("PRV-BILLING-1", "PAID", 0, False)]

    replay = await billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                                  today=jakarta_today())
    assert replay == billing.Settlement(payment_id=str(payment["id"]), replayed=True, amount_idr=0)
    assert await membership_db.fetchval("SELECT count(*) FROM outbox") == 2  # a replay announces nothing
    assert moved(before) == {"created": 1, "paid": 1, "duplicate": 1, "received_idr": 105_000}


async def test_a_forged_callback_is_refused_before_anything_is_read(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    body, _ = signed(payment, ref="PRV-BILLING-2")
    error = await refusal(billing.settle(membership_db, secret=SECRET, raw_body=body, signature="00" * 32,
                                         today=jakarta_today()))
    assert error.code == "UNAUTHENTICATED"
    assert await membership_db.fetchval("SELECT count(*) FROM outbox") == 0


@pytest.mark.parametrize("periods", [["2026-1"], ["2026-13"], ["2026-00"], ["x" * 10_000], [""],
                                     ["2026-01"] * 121])
async def test_malformed_periods_are_refused_before_the_participant_is_looked_up(membership_db, periods):
    error = await refusal(billing.create_payment(membership_db, noka="0009999999999", periods=periods))
    assert error.code == "VALIDATION_ERROR" and error.fields["errors"][0]["field"] == "periods"


@pytest.mark.parametrize("noka", ["", "12ab", "0" * 10_000])
async def test_a_missing_or_malformed_noka_is_a_validation_error(membership_db, noka):
    error = await refusal(billing.create_payment(membership_db, noka=noka, periods=[]))
    assert error.code == "VALIDATION_ERROR" and error.fields["errors"][0]["field"] == "noka"


async def test_nothing_unpaid_is_a_validation_error(membership_db):
    error = await refusal(billing.create_payment(membership_db, noka=RUDI, periods=[]))
    assert error.code == "VALIDATION_ERROR" and error.fields["errors"][0]["field"] == "periods"


# --- payments rule 2: the open payment again, or a new one superseding it ---------------------------------------


async def test_asking_again_for_the_same_bills_gets_the_open_payment_back(membership_db):
    before = counters()
    first = await billing.create_payment(membership_db, noka=SITI, periods=[])
    again = await billing.create_payment(membership_db, noka=SITI, periods=[])
    named = await billing.create_payment(membership_db, noka=SITI, periods=await siti_periods(membership_db))
    assert [dict(p) for p in (again, named)] == [dict(first)] * 2  # same id, account, amount and expiry
    assert await membership_db.fetchval("SELECT count(*) FROM payments") == 1
    assert moved(before) == {"created": 1, "reused": 2}


async def test_asking_for_other_bills_supersedes_the_open_payment(membership_db):
    everything = await billing.create_payment(membership_db, noka=SITI, periods=[])
    oldest = (await siti_periods(membership_db))[0]
    one = await billing.create_payment(membership_db, noka=SITI, periods=[oldest])
    assert one["id"] != everything["id"] and (one["amount_idr"], list(one["periods"])) == (35_000, [oldest])
    assert one["virtual_account"] == everything["virtual_account"]  # the head's, always
    assert dict(await payment_row(membership_db, everything["id"])) == {
        "status": "EXPIRED", "superseded_by": one["id"], "provider_ref": None}
    assert await membership_db.fetchval("SELECT count(*) FROM payments WHERE status = 'PENDING'") == 1


async def test_an_expired_open_payment_is_not_handed_out_again(membership_db):
    first = await billing.create_payment(membership_db, noka=SITI, periods=[])
    await membership_db.execute("UPDATE payments SET expires_at = now() - interval '1 second'")
    second = await billing.create_payment(membership_db, noka=SITI, periods=[])
    assert second["id"] != first["id"] and second["expires_at"] > first["expires_at"]
    assert (await payment_row(membership_db, first["id"]))["status"] == "EXPIRED"


async def test_racing_requests_for_the_same_bills_open_one_payment(membership_db):
    before = counters()
    opened = await asyncio.gather(*(billing.create_payment(membership_db, noka=SITI, periods=[]) for _ in range(10)))
    assert len({p["id"] for p in opened}) == 1
    assert await membership_db.fetchval("SELECT count(*) FROM payments") == 1
    assert moved(before) == {"created": 1, "reused": 9}


async def test_racing_requests_for_different_bills_leave_one_open_payment(membership_db):
    periods = await siti_periods(membership_db)
    asks = [[], *([p] for p in periods), periods[:2]] * 3
    opened = await asyncio.gather(*(billing.create_payment(membership_db, noka=SITI, periods=ask) for ask in asks))
    assert len(opened) == len(asks)
    assert await membership_db.fetchval("SELECT count(*) FROM payments WHERE status = 'PENDING'") == 1
    assert await membership_db.fetchval(
        "SELECT count(*) FROM payments WHERE status = 'EXPIRED' AND superseded_by IS NULL") == 0


# --- payments rules 5–7: the money is never refused once it moved ----------------------------------------------


async def test_a_superseded_payment_paid_anyway_is_settled_late_and_pays_its_bills(membership_db):
    before = counters()
    everything = await billing.create_payment(membership_db, noka=SITI, periods=[])
    oldest = (await siti_periods(membership_db))[0]
    one = await billing.create_payment(membership_db, noka=SITI, periods=[oldest])

    # The bank confirms the first virtual account although a newer one replaced it: the money moved.
    settled = await settle(membership_db, everything, ref="PRV-LATE-1")
    assert settled == billing.Settlement(payment_id=str(everything["id"]), replayed=False, amount_idr=105_000,
                                         outcome="settled_late", overpaid_idr=0)
    assert await siti_periods(membership_db) == [] and await siti_status(membership_db) == "AKTIF"
    assert (await payment_row(membership_db, everything["id"]))["status"] == "PAID"
    # The newer payment asked for a bill that is paid now: superseded by the one that paid it.
    assert dict(await payment_row(membership_db, one["id"])) == {
        "status": "EXPIRED", "superseded_by": everything["id"], "provider_ref": None}
    assert await outbox_types(membership_db) == [event_type(events_pb2.PaymentReceived),
                                                 event_type(events_pb2.StatusChanged)]

    # The family paid the newer one too: settled as well, its rupiah kept for reconciliation.
    twice = await settle(membership_db, one, ref="PRV-LATE-2")
    assert twice == billing.Settlement(payment_id=str(one["id"]), replayed=False, amount_idr=35_000,
                                       outcome="settled_late", overpaid_idr=35_000)
    assert await receipts(membership_db) == [("PRV-LATE-1", "SETTLED_LATE", 0, False),
                                             ("PRV-LATE-2", "SETTLED_LATE", 35_000, True)]
    assert moved(before) == {"created": 2, "settled_late": 2, "reconciliations": 1, "overpaid_idr": 35_000,
                             "received_idr": 140_000}


async def test_the_newer_payment_paid_first_leaves_the_older_one_only_its_other_bills(membership_db):
    everything = await billing.create_payment(membership_db, noka=SITI, periods=[])
    oldest = (await siti_periods(membership_db))[0]
    one = await billing.create_payment(membership_db, noka=SITI, periods=[oldest])
    assert (await settle(membership_db, one, ref="PRV-NEW-1")).outcome == "paid"
    assert await siti_status(membership_db) == "TIDAK_AKTIF"  # two months still owed
    late = await settle(membership_db, everything, ref="PRV-OLD-1")
    assert (late.outcome, late.overpaid_idr) == ("settled_late", 35_000)  # the oldest month was paid already
    assert await siti_periods(membership_db) == [] and await siti_status(membership_db) == "AKTIF"


async def test_a_payment_paid_after_its_expiry_is_settled_late(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    await membership_db.execute("UPDATE payments SET expires_at = now() - interval '1 hour'")
    settled = await settle(membership_db, payment, ref="PRV-EXPIRED-1")
    assert (settled.outcome, settled.overpaid_idr, settled.replayed) == ("settled_late", 0, False)
    assert await siti_status(membership_db) == "AKTIF"


async def test_a_payment_paid_again_under_another_reference_is_recorded_for_reconciliation(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    await settle(membership_db, payment, ref="PRV-TWICE-1")
    before = counters()
    again = await settle(membership_db, payment, ref="PRV-TWICE-2")
    assert again == billing.Settlement(payment_id=str(payment["id"]), replayed=False, amount_idr=105_000,
                                       outcome="paid_again", overpaid_idr=105_000)
    assert (await payment_row(membership_db, payment["id"]))["provider_ref"] == "PRV-TWICE-1"
    assert len(await outbox_types(membership_db)) == 2  # nothing more announced
    assert (await receipts(membership_db))[1] == ("PRV-TWICE-2", "PAID_AGAIN", 105_000, True)
    assert moved(before) == {"paid_again": 1, "reconciliations": 1, "overpaid_idr": 105_000,
                             "received_idr": 105_000}


@pytest.mark.parametrize("change", [{"amount": 35_000}, {"amount": 105_001}, {"virtual_account": "8888800000000000"}])
async def test_a_wrong_amount_or_account_is_refused_even_for_a_superseded_payment(membership_db, change):
    everything = await billing.create_payment(membership_db, noka=SITI, periods=[])
    await billing.create_payment(membership_db, noka=SITI, periods=[(await siti_periods(membership_db))[0]])
    before = counters()
    error = await refusal(settle(membership_db, everything, ref="PRV-WRONG-1", **change))
    assert error.code == "PAYMENT_AMOUNT_MISMATCH"
    assert await receipts(membership_db) == [] and await siti_status(membership_db) == "TIDAK_AKTIF"
    assert moved(before) == {"rejected": 1}


async def test_a_reference_received_once_answers_for_its_payment_whatever_the_body_says(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    await settle(membership_db, payment, ref="PRV-SAME-1")
    replay = await settle(membership_db, payment, ref="PRV-SAME-1", paid_at=jakarta_now().isoformat())
    assert replay == billing.Settlement(payment_id=str(payment["id"]), replayed=True, amount_idr=0)


# --- the callback's body: a 422 naming the field, never a 500, on every retry ----------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"paid_at": "2026-11-21T10:30:00"}, "paid_at"),    # no offset
    ({"paid_at": "kemarin"}, "paid_at"),
    ({"amount": "105.000"}, "amount"),
    ({"amount": 105_000.5}, "amount"),
    ({"provider_ref": "x" * 3000}, "provider_ref"),     # longer than any index entry may be
    ({"provider_ref": "PRV\u0000"}, "provider_ref"),   # a NUL, which Postgres cannot store
    ({"payment_id": "urn:uuid:"}, "payment_id"),
    ({"payment_id": None}, "payment_id"),
])
async def test_a_malformed_field_is_a_validation_error_naming_it_on_every_retry(membership_db, change, field):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    for _ in range(2):
        error = await refusal(settle(membership_db, payment, ref="PRV-BAD-1", **change))
        assert error.code == "VALIDATION_ERROR" and [e["field"] for e in error.fields["errors"]] == [field]
    assert await siti_status(membership_db) == "TIDAK_AKTIF"


async def test_an_unknown_payment_is_not_found(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    error = await refusal(settle(membership_db, payment, ref="PRV-UNKNOWN-1", payment_id=str(uuid.uuid4())))
    assert error.code == "NOT_FOUND"


async def test_any_spelling_of_the_payments_uuid_finds_it(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    spelled = f"urn:uuid:{str(payment['id']).upper()}"
    assert (await settle(membership_db, payment, ref="PRV-URN-1", payment_id=spelled)).outcome == "paid"


# --- racing callbacks -------------------------------------------------------------------------------------------


async def test_ten_identical_callbacks_racing_each_other_settle_once(membership_db):
    payment = await billing.create_payment(membership_db, noka=SITI, periods=[])
    body, signature = signed(payment, ref="PRV-RACE-1")
    before = counters()
    answers = await asyncio.gather(*(billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                                                    today=jakarta_today()) for _ in range(10)))
    assert {a.payment_id for a in answers} == {str(payment["id"])}
    assert sorted(a.replayed for a in answers) == [False] + [True] * 9
    assert await receipts(membership_db) == [("PRV-RACE-1", "PAID", 0, False)]
    assert await outbox_types(membership_db) == [event_type(events_pb2.PaymentReceived),
                                                 event_type(events_pb2.StatusChanged)]
    assert moved(before) == {"paid": 1, "duplicate": 9, "received_idr": 105_000}


async def test_one_reference_racing_for_two_families_settles_one_of_them(membership_db):
    rudi = await membership_db.fetchval("SELECT id FROM participants WHERE noka = $1", RUDI)
    await membership_db.execute("INSERT INTO bills (participant_id, period, amount_idr, status)"
                                " VALUES ($1, '2000-01', 150000, 'UNPAID')", rudi)
    payments = [await billing.create_payment(membership_db, noka=noka, periods=[]) for noka in (SITI, RUDI)]
    answers = await asyncio.gather(*(settle(membership_db, p, ref="PRV-SHARED-1") for p in payments * 3))
    assert sorted(a.replayed for a in answers) == [False] + [True] * 5
    assert len({a.payment_id for a in answers}) == 1  # every answer names the payment that took the reference
    assert await membership_db.fetchval("SELECT count(*) FROM payments WHERE status = 'PAID'") == 1


async def test_a_callback_racing_new_payment_requests_neither_deadlocks_nor_loses_the_money(membership_db):
    everything = await billing.create_payment(membership_db, noka=SITI, periods=[])
    periods = await siti_periods(membership_db)
    body, signature = signed(everything, ref="PRV-RACE-2")
    callback = billing.settle(membership_db, secret=SECRET, raw_body=body, signature=signature,
                              today=jakarta_today())
    requests = [billing.create_payment(membership_db, noka=SITI, periods=[p]) for p in periods]
    answers = await asyncio.gather(callback, *requests, return_exceptions=True)
    settled, opened = answers[0], answers[1:]
    assert isinstance(settled, billing.Settlement) and settled.outcome in ("paid", "settled_late")
    # a request served after the settlement finds its bill paid; one before it is superseded by it
    assert all(isinstance(o, DomainError) and o.code == "VALIDATION_ERROR" or not isinstance(o, BaseException)
               for o in opened)
    assert await siti_periods(membership_db) == [] and await siti_status(membership_db) == "AKTIF"
    assert await membership_db.fetchval("SELECT count(*) FROM payments WHERE status = 'PENDING'") == 0

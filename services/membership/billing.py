"""Billing: what a family owes, opening a payment for it, and settling the payment provider's
callback — the order of the checks and the transactions. The rules are `premiums`' and
`payments`' (numbers below are theirs); the counting is `metrics`'.

- `bills`: premiums rules 2–4 (only self-paying families have bills; the arrears are the unpaid
  bills past their due date).
- `create_payment`: payments rule 1 (the chosen, or all, unpaid periods of the family, in one
  virtual account replacing the open one), counted ``created``.
- `settle`: payments rules 2–5 in order — the signature, the body, a replayed ``provider_ref``
  (answered without change), the payment and its amount/account/state, then in one transaction
  the payment and its bills PAID, `events.payment_received`, and, with no arrears left, the
  family AKTIF (`events.status_changed` for each member). Counted once decided: ``paid`` (with
  its rupiah), ``duplicate`` or ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from services.kit.errors import DomainError, NotFound
from services.kit.ids import is_uuid
from services.membership import events, inputs, metrics, participants, payments, premiums, store


@dataclass(frozen=True)
class Bills:
    arrears_total_idr: int
    #: One row per period (``period``, ``amount_idr``, ``status``), newest first.
    bills: list[asyncpg.Record]


async def bills(pool: asyncpg.Pool, *, noka: str, today: date) -> Bills:
    """The family's monthly bills and the arrears total (none for PBI and PPU)."""
    row = await participants.find(pool, noka=noka)
    if not premiums.is_billed(row["segment"]):
        return Bills(arrears_total_idr=0, bills=[])
    rows = await store.family_bills(pool, family_id=row["family_id"])
    arrears = sum(b["amount_idr"] for b in rows
                  if premiums.in_arrears(status=b["status"], period=b["period"], today=today))
    return Bills(arrears_total_idr=arrears, bills=rows)


async def open_payment_in(conn: asyncpg.Connection, *, family_id: int, head_noka: str, amount_idr: int,
                          periods: list[str]) -> asyncpg.Record:
    """Payments rule 1 and premiums rule 5, inside the caller's transaction: the head's virtual
    account, valid for 24 hours from now (the caller counts it ``created`` once committed)."""
    return await store.open_payment(conn, family_id=family_id, virtual_account=payments.virtual_account(head_noka),
                                    amount_idr=amount_idr, periods=periods,
                                    expires_at=premiums.payment_expires_at(datetime.now(UTC)))


async def create_payment(pool: asyncpg.Pool, *, noka: str, periods: list[str]) -> asyncpg.Record:
    """Payments rule 1: a virtual account for the chosen (or all) unpaid periods of the family."""
    if not all(inputs.is_period(period) for period in periods):
        raise inputs.invalid("periods", "YYYY-MM")
    row = await participants.find(pool, noka=noka)
    async with pool.acquire() as conn, conn.transaction():
        unpaid = await store.unpaid_family_bills(conn, family_id=row["family_id"], periods=periods)
        if not unpaid:
            raise inputs.invalid("periods", "nothing unpaid to pay")
        head = (await store.family_of(conn, family_id=row["family_id"]))[0]
        payment = await open_payment_in(conn, family_id=row["family_id"], head_noka=head["noka"],
                                        amount_idr=sum(b["amount_idr"] for b in unpaid),
                                        periods=sorted({b["period"] for b in unpaid}))
    metrics.PAYMENTS.labels("created").inc()
    return payment


@dataclass(frozen=True)
class Settlement:
    payment_id: str
    #: True when this ``provider_ref`` had been applied already (nothing changed).
    replayed: bool
    #: The rupiah this callback newly paid (0 for a replay).
    amount_idr: int


async def settle(pool: asyncpg.Pool, *, secret: str, raw_body: bytes, signature: str, today: date) -> Settlement:
    """Payments rules 2–5 for one callback, counted once decided (see the module's docstring)."""
    try:
        settlement = await _settle(pool, secret=secret, raw_body=raw_body, signature=signature, today=today)
    except DomainError:
        metrics.PAYMENTS.labels("rejected").inc()
        raise
    metrics.PAYMENTS.labels("duplicate" if settlement.replayed else "paid").inc()
    metrics.PAID_AMOUNT_IDR.inc(settlement.amount_idr)
    return settlement


async def _settle(pool: asyncpg.Pool, *, secret: str, raw_body: bytes, signature: str, today: date) -> Settlement:
    payments.verify_signature(secret, raw_body, signature)
    callback = payments.parse_callback(raw_body)
    async with pool.acquire() as conn, conn.transaction():
        seen = await store.payment_by_provider_ref(conn, provider_ref=callback.provider_ref)
        if seen is not None:
            return Settlement(payment_id=str(seen["id"]), replayed=True, amount_idr=0)
        payment = await store.payment_for_update(conn, payment_id=callback.payment_id) \
            if is_uuid(callback.payment_id) else None
        if payment is None:
            raise NotFound("no such payment")
        payments.check_matches(callback=callback, amount_idr=payment["amount_idr"],
                               account=payment["virtual_account"], status=payment["status"],
                               expires_at=payment["expires_at"])
        family_id, periods = payment["family_id"], list(payment["periods"])
        await store.mark_paid(conn, payment_id=payment["id"], family_id=family_id, periods=periods,
                              paid_at=callback.paid_at, provider_ref=callback.provider_ref)
        family = await store.family_of(conn, family_id=family_id)
        await events.payment_received(conn, family_id=family_id, payment_id=str(payment["id"]),
                                      amount_idr=payment["amount_idr"], periods=periods,
                                      nokas=[m["noka"] for m in family])
        if not await store.family_has_arrears(conn, family_id=family_id, today=today):
            for noka in await store.activate_family(conn, family_id=family_id):
                await events.status_changed(conn, noka=noka, status="AKTIF", reason=None)
    return Settlement(payment_id=str(payment["id"]), replayed=False, amount_idr=payment["amount_idr"])

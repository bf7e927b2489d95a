"""Billing: what a family owes, opening a payment for it, and settling the payment provider's
callback — the order of the checks and the transactions. The rules are `premiums`' and
`payments`' (numbers below are theirs); the counting is `metrics`'.

- `bills`: premiums rules 2–4 (only self-paying families have bills; the arrears are the unpaid
  bills past their due date).
- `create_payment`: inputs rule 2 (the periods), then, under the family's lock, payments rules
  1–2: the open payment again when it covers exactly the bills asked for (counted ``reused``),
  otherwise a new one superseding it (counted ``created``).
- `settle`: payments rules 3–8 in order — the signature, the body, a received ``provider_ref``
  (answered without change), the payment; then under the family's lock the reference again, the
  amount/account, the outcome, and in one transaction the receipt, the payment and its unpaid
  bills PAID, open payments owing those bills superseded, `events.payment_received`, and, with no
  arrears left, the family AKTIF (`events.status_changed` for each member); the overpaid rupiah
  noted for reconciliation. Counted once decided: ``paid``, ``settled_late`` or ``paid_again``
  (with their rupiah), ``duplicate`` or ``rejected``; an overpayment also in the reconciliation
  counters and the ``payment_needs_reconciliation`` log event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import asyncpg

from services.kit.errors import DomainError, NotFound
from services.kit.logs import get_logger
from services.membership import events, inputs, metrics, participants, payments, premiums, store
from services.membership.stamps import Stamps

log = get_logger("jkn.membership.billing")


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
    """Payments rule 1 and premiums rule 5, inside the caller's transaction (which holds the
    family's lock, or created the family): the head's virtual account, valid for 24 hours from now,
    superseding the open payment (the caller counts it ``created`` once committed)."""
    return await store.open_payment(conn, family_id=family_id, virtual_account=payments.virtual_account(head_noka),
                                    amount_idr=amount_idr, periods=periods,
                                    expires_at=premiums.payment_expires_at(datetime.now(UTC)))


async def create_payment(pool: asyncpg.Pool, *, noka: str, periods: list[str]) -> asyncpg.Record:
    """Payments rules 1–2: a virtual account for the chosen (or all) unpaid periods of the family."""
    inputs.check_periods(periods)
    row = await participants.find(pool, noka=noka)
    family_id = row["family_id"]
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_family(conn, family_id=family_id)
        current = await store.open_payment_of(conn, family_id=family_id)
        unpaid = await store.unpaid_family_bills(conn, family_id=family_id, periods=periods)
        if not unpaid:
            raise inputs.invalid("periods", "nothing unpaid to pay")
        amount_idr = sum(b["amount_idr"] for b in unpaid)
        if current is not None and payments.reuses_open(
                open_bills=await store.payment_bill_keys(conn, payment_id=current["id"]),
                open_amount_idr=current["amount_idr"], open_expires_at=current["expires_at"],
                bills=[(b["participant_id"], b["period"]) for b in unpaid], amount_idr=amount_idr,
                now=datetime.now(UTC)):
            payment = current
        else:
            head = (await store.family_of(conn, family_id=family_id))[0]
            payment = await open_payment_in(conn, family_id=family_id, head_noka=head["noka"], amount_idr=amount_idr,
                                            periods=sorted({b["period"] for b in unpaid}))
    metrics.PAYMENTS.labels("reused" if payment is current else "created").inc()
    return payment


@dataclass(frozen=True)
class Settlement:
    payment_id: str
    #: True when this ``provider_ref`` had been received already (nothing changed).
    replayed: bool
    #: The rupiah this callback newly received (0 for a replay).
    amount_idr: int
    #: What it did to the payment (payments rule 6); None for a replay.
    outcome: payments.Outcome | None = None
    #: The rupiah received beyond the bills it newly paid, to reconcile (payments rule 7).
    overpaid_idr: int = 0
    #: The NOKAs it made AKTIF (their family's membership reads change).
    activated: tuple[str, ...] = field(default=(), compare=False)


async def settle(pool: asyncpg.Pool, *, secret: str, raw_body: bytes, signature: str, today: date,
                 stamps: Stamps | None = None) -> Settlement:
    """Payments rules 3–8 for one callback, counted once decided (see the module's docstring); a
    family it activated reads its membership afresh (`stamps`)."""
    try:
        settlement = await _settle(pool, secret=secret, raw_body=raw_body, signature=signature, today=today)
    except DomainError:
        metrics.PAYMENTS.labels("rejected").inc()
        raise
    if stamps is not None:
        await stamps.expire_families_of(pool, settlement.activated)
    if settlement.outcome is None:
        metrics.PAYMENTS.labels("duplicate").inc()
        return settlement
    metrics.PAYMENTS.labels(settlement.outcome).inc()
    metrics.PAID_AMOUNT_IDR.inc(settlement.amount_idr)
    if settlement.outcome == "settled_late":
        log.info("payment_settled_late", extra={"payment_id": settlement.payment_id})
    if payments.needs_reconciliation(settlement.overpaid_idr):
        metrics.RECONCILIATIONS.labels(settlement.outcome).inc()
        metrics.OVERPAID_AMOUNT_IDR.inc(settlement.overpaid_idr)
        log.warning("payment_needs_reconciliation", extra={
            "payment_id": settlement.payment_id, "outcome": settlement.outcome,
            "overpaid_idr": settlement.overpaid_idr})
    return settlement


def _replay(receipt: asyncpg.Record | None) -> Settlement:
    if receipt is None:  # never: a receipt that stopped a write is committed
        raise NotFound("no such payment")
    return Settlement(payment_id=str(receipt["payment_id"]), replayed=True, amount_idr=0)


async def _settle(pool: asyncpg.Pool, *, secret: str, raw_body: bytes, signature: str, today: date) -> Settlement:
    payments.verify_signature(secret, raw_body, signature)
    callback = payments.parse_callback(raw_body)
    async with pool.acquire() as conn, conn.transaction():
        if (seen := await store.receipt_of(conn, provider_ref=callback.provider_ref)) is not None:
            return _replay(seen)
        family_id = await store.payment_family(conn, payment_id=callback.payment_id)
        if family_id is None:
            raise NotFound("no such payment")
        await store.lock_family(conn, family_id=family_id)
        if (seen := await store.receipt_of(conn, provider_ref=callback.provider_ref)) is not None:
            return _replay(seen)  # a duplicate that raced this one settled first
        payment = await store.payment_for_update(conn, payment_id=callback.payment_id)
        if payment is None:  # never: payments are not deleted
            raise NotFound("no such payment")
        payments.check_matches(callback=callback, amount_idr=payment["amount_idr"],
                               account=payment["virtual_account"])
        outcome = payments.outcome(status=payment["status"], paid_at=callback.paid_at,
                                   expires_at=payment["expires_at"])
        if not await store.add_receipt(conn, provider_ref=callback.provider_ref, payment_id=payment["id"],
                                       amount_idr=callback.amount_idr, paid_at=callback.paid_at, outcome=outcome):
            # the same reference reported for another family's payment, settled meanwhile
            return _replay(await store.receipt_of(conn, provider_ref=callback.provider_ref))
        newly_paid, activated = 0, list[str]()
        if outcome != "paid_again":
            newly_paid, activated = await _pay(conn, payment=payment, callback=callback, today=today)
        overpaid = payments.overpaid_idr(amount_idr=payment["amount_idr"], newly_paid_idr=newly_paid)
        if payments.needs_reconciliation(overpaid):
            await store.note_overpaid(conn, provider_ref=callback.provider_ref, overpaid_idr=overpaid)
    return Settlement(payment_id=str(payment["id"]), replayed=False, amount_idr=callback.amount_idr,
                      outcome=outcome, overpaid_idr=overpaid, activated=tuple(activated))


async def _pay(conn: asyncpg.Connection, *, payment: asyncpg.Record, callback: payments.Callback,
               today: date) -> tuple[int, list[str]]:
    """Payments rules 6 and 8 inside the settling transaction: the payment and its unpaid bills
    PAID, open payments owing them superseded, announced, the family AKTIF without arrears; the
    rupiah of the bills newly paid and the NOKAs made AKTIF."""
    payment_id: uuid.UUID = payment["id"]
    family_id, periods = payment["family_id"], list(payment["periods"])
    newly_paid = await store.settle_payment(conn, payment_id=payment_id, paid_at=callback.paid_at,
                                            provider_ref=callback.provider_ref)
    await store.supersede_payments_owing_paid_bills(conn, family_id=family_id, by=payment_id)
    family = await store.family_of(conn, family_id=family_id)
    await events.payment_received(conn, family_id=family_id, payment_id=str(payment_id),
                                  amount_idr=payment["amount_idr"], periods=periods,
                                  nokas=[m["noka"] for m in family])
    activated = []
    if not await store.family_has_arrears(conn, family_id=family_id, today=today):
        activated = await store.activate_family(conn, family_id=family_id)
        for noka in activated:
            await events.status_changed(conn, noka=noka, status="AKTIF", reason=None)
    return newly_paid, activated

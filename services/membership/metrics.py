"""Membership's business metrics. Labels are outcomes only — never a card number, a family,
a virtual account or an amount of one person.

- ``membership_payments_total{result}``: ``created`` (a virtual account opened, by a payment
  request or an enrolment), ``reused`` (a payment request answered with the open payment that
  covers the same bills, payments rule 2), ``paid`` (a provider callback paying an open payment),
  ``settled_late`` (a callback for a superseded or expired payment, settled all the same),
  ``paid_again`` (a callback for a payment already paid under another reference: recorded for
  reconciliation), ``duplicate`` (a replayed callback, answered without change), ``rejected``
  (a callback refused: bad signature, malformed, unknown payment, amount or account differing).
- ``membership_payment_amount_idr_total``: rupiah received through accepted callbacks.
- ``membership_payment_reconciliations_total{outcome}`` and
  ``membership_payment_overpaid_amount_idr_total``: receipts that paid beyond their bills
  (payments rule 7), and those rupiah — what the back office must refund or credit.
- ``membership_freshness_failures_total``: committed changes whose stamps Redis did not delete
  (`stamps`; the gateway's cached reads of those families then last their maximum age).
"""

from __future__ import annotations

from prometheus_client import Counter

PAYMENT_RESULTS = ("created", "reused", "paid", "settled_late", "paid_again", "duplicate", "rejected")
RECONCILIATION_OUTCOMES = ("paid", "settled_late", "paid_again")

PAYMENTS = Counter("membership_payments_total", "Premium payments, by what happened to them.", ["result"])
PAID_AMOUNT_IDR = Counter("membership_payment_amount_idr_total", "Rupiah received through accepted payments.")
RECONCILIATIONS = Counter("membership_payment_reconciliations_total",
                          "Receipts that paid beyond their bills (to refund or credit), by outcome.", ["outcome"])
OVERPAID_AMOUNT_IDR = Counter("membership_payment_overpaid_amount_idr_total",
                              "Rupiah received beyond the bills they paid (to refund or credit).")
FRESHNESS_FAILURES = Counter("membership_freshness_failures_total",
                             "Changes whose readers' stamps could not be deleted in Redis (cached reads then "
                             "last until their maximum age).")

for _result in PAYMENT_RESULTS:  # every series exists from the start, at zero
    PAYMENTS.labels(_result)
for _outcome in RECONCILIATION_OUTCOMES:
    RECONCILIATIONS.labels(_outcome)

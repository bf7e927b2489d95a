"""Membership's business metrics. Labels are outcomes only — never a card number, a family,
a virtual account or an amount of one person.

- ``membership_payments_total{result}``: ``created`` (a virtual account opened, by a payment
  request or an enrolment), ``paid`` (a provider callback accepted), ``duplicate`` (a replayed
  callback, answered without change), ``rejected`` (a callback refused: bad signature,
  malformed, unknown payment, amount or account differing, payment no longer open).
- ``membership_payment_amount_idr_total``: rupiah received through accepted callbacks.
"""

from __future__ import annotations

from prometheus_client import Counter

PAYMENT_RESULTS = ("created", "paid", "duplicate", "rejected")

PAYMENTS = Counter("membership_payments_total", "Premium payments, by what happened to them.", ["result"])
PAID_AMOUNT_IDR = Counter("membership_payment_amount_idr_total", "Rupiah received through accepted payments.")

for _result in PAYMENT_RESULTS:  # every series exists from the start, at zero
    PAYMENTS.labels(_result)

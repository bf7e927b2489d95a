"""What each payment covers, what superseded it, and every sum the provider reported received
(payments rules 2 and 5–7): a callback is never refused once the money moved, and what it paid
beyond the bills is kept for reconciliation.

- ``payment_bills``: the bills (participant, period) a payment was opened for, with their amounts.
- ``payments.superseded_by``: the payment that replaced an open one (a new request, or a late
  settlement that paid its bills); a payment past its expiry stays PENDING until one does.
- ``payment_receipts``: one row per accepted callback, keyed by the provider's reference (the
  idempotency key): its outcome and the rupiah it paid beyond the bills (``overpaid_idr``), which
  the back office must refund or credit (``needs_reconciliation``).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE payments ADD COLUMN superseded_by uuid REFERENCES payments DEFERRABLE INITIALLY DEFERRED;
        CREATE TABLE payment_bills (
            payment_id      uuid    NOT NULL REFERENCES payments,
            participant_id  uuid    NOT NULL,
            period          text    NOT NULL,
            amount_idr      bigint  NOT NULL CHECK (amount_idr > 0),
            PRIMARY KEY (payment_id, participant_id, period),
            FOREIGN KEY (participant_id, period) REFERENCES bills
        );
        CREATE INDEX payment_bills_bill ON payment_bills (participant_id, period);
        CREATE TABLE payment_receipts (
            provider_ref          text        PRIMARY KEY,
            payment_id            uuid        NOT NULL REFERENCES payments,
            amount_idr            bigint      NOT NULL CHECK (amount_idr > 0),
            paid_at               timestamptz NOT NULL,
            outcome               text        NOT NULL CHECK (outcome IN ('PAID', 'SETTLED_LATE', 'PAID_AGAIN')),
            overpaid_idr          bigint      NOT NULL DEFAULT 0 CHECK (overpaid_idr >= 0),
            needs_reconciliation  boolean     GENERATED ALWAYS AS (overpaid_idr > 0) STORED,
            received_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX payment_receipts_payment ON payment_receipts (payment_id);
        CREATE INDEX payment_receipts_to_reconcile ON payment_receipts (received_at) WHERE needs_reconciliation;

        INSERT INTO payment_bills (payment_id, participant_id, period, amount_idr)
        SELECT p.id, b.participant_id, b.period, b.amount_idr FROM payments p
        JOIN participants m ON m.family_id = p.family_id JOIN bills b ON b.participant_id = m.id
        WHERE b.period = ANY(p.periods);
        INSERT INTO payment_receipts (provider_ref, payment_id, amount_idr, paid_at, outcome)
        SELECT provider_ref, id, amount_idr, coalesce(paid_at, created_at), 'PAID' FROM payments
        WHERE provider_ref IS NOT NULL;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE payment_receipts; DROP TABLE payment_bills; ALTER TABLE payments DROP COLUMN superseded_by;")

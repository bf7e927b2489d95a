"""What membership publishes (`events`): protobuf messages on ``membership.events`` through the
outbox, typed by their full name, keyed as events.proto says — from the use cases and the jobs."""

from __future__ import annotations

from datetime import timedelta

from jkn.membership.v1 import events_pb2, membership_pb2
from services.kit.clock import jakarta_today
from services.kit.events import event_type
from services.kit.kafka import MEMBERSHIP_EVENTS
from services.membership import events, fktp, jobs

BUDI, SRI, ANDI, DEWI, RUDI = "0001234567801", "0001234567802", "0001234567803", "0004567890006", "0005678900007"


async def published(pool) -> list[tuple[str, str, object]]:
    """(key, event_type, the parsed message) of every outbox row, oldest first."""
    classes = {event_type(c): c for c in (events.FamilyEnrolled, events.FktpChangeRequested, events.FktpChanged,
                                           events.PaymentReceived, events.StatusChanged)}
    rows = await pool.fetch("SELECT topic, key, event_type, payload FROM outbox ORDER BY id")
    assert {r["topic"] for r in rows} <= {MEMBERSHIP_EVENTS}
    return [(r["key"].decode(), r["event_type"], classes[r["event_type"]].FromString(r["payload"])) for r in rows]


async def test_each_event_is_its_protobuf_message_under_its_key(membership_db):
    async with membership_db.acquire() as conn, conn.transaction():
        await events.family_enrolled(conn, head_noka=BUDI, nokas=[BUDI, SRI])
        await events.fktp_change_requested(conn, noka=DEWI, to_facility_code="0114U002",
                                           effective_date=fktp.effective_date(jakarta_today()))
        await events.fktp_changed(conn, noka=DEWI, fktp_code="0114U002")
        await events.payment_received(conn, family_id=7, payment_id="p-1", amount_idr=105_000,
                                      periods=["2026-01"], nokas=[BUDI])
    assert [(key, kind) for key, kind, _ in await published(membership_db)] == [
        (BUDI, "jkn.membership.v1.FamilyEnrolled"), (DEWI, "jkn.membership.v1.FktpChangeRequested"),
        (DEWI, "jkn.membership.v1.FktpChanged"), ("7", "jkn.membership.v1.PaymentReceived")]
    messages = [message for _, _, message in await published(membership_db)]
    assert messages == [
        events_pb2.FamilyEnrolled(nokas=[BUDI, SRI]),
        events_pb2.FktpChangeRequested(noka=DEWI, to_facility_code="0114U002",
                                       effective_date=fktp.effective_date(jakarta_today()).isoformat()),
        events_pb2.FktpChanged(noka=DEWI, fktp_code="0114U002"),
        events_pb2.PaymentReceived(payment_id="p-1", amount_idr=105_000, periods=["2026-01"], nokas=[BUDI])]


async def test_status_changed_says_the_status_and_why(membership_db):
    async with membership_db.acquire() as conn, conn.transaction():
        await events.status_changed(conn, noka=BUDI, status="AKTIF", reason=None)
        await events.status_changed(conn, noka=SRI, status="TIDAK_AKTIF", reason="TUNGGAKAN_IURAN")
    assert [(key, message) for key, _, message in await published(membership_db)] == [
        (BUDI, events_pb2.StatusChanged(noka=BUDI, status=membership_pb2.PARTICIPANT_STATUS_AKTIF,
                                        status_reason=membership_pb2.STATUS_REASON_UNSPECIFIED)),
        (SRI, events_pb2.StatusChanged(noka=SRI, status=membership_pb2.PARTICIPANT_STATUS_TIDAK_AKTIF,
                                       status_reason=membership_pb2.STATUS_REASON_TUNGGAKAN_IURAN))]


async def test_a_lapse_by_the_bills_job_is_announced_with_its_reason(membership_db):
    next_month = fktp.add_months(jakarta_today().replace(day=1), 1)
    await jobs.roll_bills(membership_db, next_month.replace(day=5))  # billed, not yet due
    _, lapsed = await jobs.roll_bills(membership_db, next_month.replace(day=11))
    announced = await published(membership_db)
    assert lapsed == 4 and sorted(key for key, _, _ in announced) == sorted([BUDI, SRI, ANDI, RUDI])
    assert all(message == events_pb2.StatusChanged(
        noka=key, status=membership_pb2.PARTICIPANT_STATUS_TIDAK_AKTIF,
        status_reason=membership_pb2.STATUS_REASON_TUNGGAKAN_IURAN) for key, _, message in announced)


async def test_a_change_taking_effect_is_announced_by_the_job(membership_db):
    today = jakarta_today()
    dewi = await membership_db.fetchval("SELECT id FROM participants WHERE noka = $1", DEWI)
    await membership_db.execute(
        "INSERT INTO fktp_changes (participant_id, from_code, to_code, to_name, requested_on, effective_date)"
        " VALUES ($1, '0114U001', '0114U002', 'Puskesmas Tanah Abang', $2, $3)", dewi, today - timedelta(days=40),
        today)
    assert await jobs.apply_fktp_changes(membership_db, today) == 1
    assert await published(membership_db) == [
        (DEWI, event_type(events_pb2.FktpChanged), events_pb2.FktpChanged(noka=DEWI, fktp_code="0114U002"))]

"""Membership over gRPC against its real database with the demo data of CONTRACT.md §6."""

from __future__ import annotations

import time
from datetime import timedelta

import asyncpg
import grpc
import pytest

from jkn.membership.v1 import events_pb2, membership_pb2, membership_pb2_grpc, partner_pb2, partner_pb2_grpc
from services.kit.clock import jakarta_now, jakarta_today
from services.kit.errors import decode_rpc_error
from services.kit.events import event_type
from services.kit.partner_auth import signed_metadata
from services.membership import fktp, jobs, premiums
from services.membership.app import build
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings

BUDI, SITI, AGUS, DEWI = "0001234567801", "0002345678904", "0003456789005", "0004567890006"
AKTIF, TIDAK_AKTIF = membership_pb2.PARTICIPANT_STATUS_AKTIF, membership_pb2.PARTICIPANT_STATUS_TIDAK_AKTIF


@pytest.fixture
async def membership(service):
    today = jakarta_today()
    async with (service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today) as queue,
                service(MembershipSettings, build, seed_demo_data=True, demo_today=today,
                        queue_addr=queue.address) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        # The month's roll runs in the background from start; run it here too (it is idempotent) so
        # this month's bill exists before the first call, whatever the day (days 1-10 add Siti's).
        pool = await asyncpg.create_pool(running.settings.database_dsn, min_size=1, max_size=1)
        try:
            await jobs.roll_bills(pool, today)
        finally:
            await pool.close()
        yield (membership_pb2_grpc.MembershipServiceStub(channel),
               partner_pb2_grpc.PartnerMembershipServiceStub(channel))


async def test_budi_sees_his_family_of_three_all_active(membership):
    stub, _ = membership
    reply = await stub.GetMembership(membership_pb2.GetMembershipRequest(noka=BUDI))
    assert reply.participant.name == "BUDI SANTOSO" and reply.participant.nik_masked == "317101******0001"
    assert [m.name for m in reply.family] == ["BUDI SANTOSO", "SRI RAHAYU", "ANDI SANTOSO"]
    assert [m.relation for m in reply.family] == [membership_pb2.RELATION_HEAD, membership_pb2.RELATION_SPOUSE,
                                                  membership_pb2.RELATION_CHILD]
    assert all(m.status == AKTIF for m in reply.family) and reply.all_family_active
    assert reply.participant.fktp.code == "0114U001" and reply.participant.fktp.name == "Klinik Pratama Sehat Menteng"
    assert reply.participant.segment == membership_pb2.SEGMENT_PBPU and reply.participant.care_class == 2


async def test_siti_is_inactive_with_three_unpaid_months_of_rp35000(membership):
    stub, _ = membership
    reply = await stub.GetMembership(membership_pb2.GetMembershipRequest(noka=SITI))
    assert reply.participant.status == TIDAK_AKTIF
    assert reply.participant.status_reason == membership_pb2.STATUS_REASON_TUNGGAKAN_IURAN
    assert not reply.all_family_active
    bills = await stub.ListBills(membership_pb2.ListBillsRequest(noka=SITI))
    today = jakarta_today().isoformat()
    overdue = [b for b in bills.bills if b.status == membership_pb2.BILL_STATUS_UNPAID and b.due_date < today]
    assert len(overdue) == 3 and all(b.amount_idr == 35_000 for b in overdue)
    assert bills.arrears_total_idr == 105_000


async def test_pbi_and_ppu_participants_have_no_bills(membership):
    stub, _ = membership
    for noka in (DEWI, AGUS):
        bills = await stub.ListBills(membership_pb2.ListBillsRequest(noka=noka))
        assert list(bills.bills) == [] and bills.arrears_total_idr == 0


async def test_identity_matches_only_with_the_right_birth_date(membership):
    stub, _ = membership
    by_nik = await stub.MatchIdentity(membership_pb2.MatchIdentityRequest(identifier="3171011501800001",
                                                                         birth_date="1980-01-15"))
    by_noka = await stub.MatchIdentity(membership_pb2.MatchIdentityRequest(identifier=BUDI, birth_date="1980-01-15"))
    wrong = await stub.MatchIdentity(membership_pb2.MatchIdentityRequest(identifier=BUDI, birth_date="1980-01-16"))
    unknown = await stub.MatchIdentity(membership_pb2.MatchIdentityRequest(identifier="3171011501809999",
                                                                          birth_date="1980-01-15"))
    assert by_nik.matched and by_noka.matched and by_nik.noka == BUDI and by_noka.participant_id
    assert not wrong.matched and not unknown.matched and wrong == unknown  # the answer does not say which part failed


async def test_unknown_or_malformed_noka(membership):
    stub, _ = membership
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetMembership(membership_pb2.GetMembershipRequest(noka="0009999999999"))
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub.GetMembership(membership_pb2.GetMembershipRequest(noka="12ab"))
    assert decode_rpc_error(missing.value).code == "NOT_FOUND"
    assert decode_rpc_error(malformed.value).code == "VALIDATION_ERROR"


async def test_partner_eligibility_with_a_valid_signature(membership):
    _, partner = membership
    metadata = signed_metadata("dev-secret-0114R001", "0114R001")
    budi = await partner.CheckEligibility(partner_pb2.CheckEligibilityRequest(noka=BUDI), metadata=metadata)
    siti = await partner.CheckEligibility(partner_pb2.CheckEligibilityRequest(nik="3273024506850004"),
                                          metadata=metadata)
    assert budi.eligible and budi.status == AKTIF and getattr(budi, "class") == 2 and budi.fktp_code == "0114U001"
    assert not siti.eligible and siti.status_reason == membership_pb2.STATUS_REASON_TUNGGAKAN_IURAN


@pytest.mark.parametrize(("secret", "cons_id", "skew_s"), [
    ("dev-secret-0114R001", "0114R001", -400),   # too old
    ("dev-secret-0114R001", "0114R001", 400),    # from the future
    ("wrong-secret", "0114R001", 0),             # wrong secret
    ("dev-secret-0114R001", "0114R002", 0),      # another facility's name
    (None, None, 0),                             # nothing at all
])
async def test_partner_eligibility_refuses_bad_signatures(membership, secret, cons_id, skew_s):
    _, partner = membership
    metadata = signed_metadata(secret, cons_id, int(time.time()) + skew_s) if secret else ()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await partner.CheckEligibility(partner_pb2.CheckEligibilityRequest(noka=BUDI), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def callback_body(payment, *, amount: int | None = None, ref: str = "PRV-0001") -> bytes:
    import json

    return json.dumps({"payment_id": payment.payment_id, "virtual_account": payment.virtual_account,
                       "amount": payment.amount_idr if amount is None else amount,
                       "paid_at": jakarta_now().isoformat(), "provider_ref": ref}).encode()


def signature(body: bytes, secret: str = "dev-payment-secret") -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_siti_pays_her_arrears_through_the_signed_webhook_and_becomes_active(membership):
    stub, _ = membership
    today = jakarta_today().isoformat()
    bills = (await stub.ListBills(membership_pb2.ListBillsRequest(noka=SITI))).bills
    arrears = [b.period for b in bills if b.status == membership_pb2.BILL_STATUS_UNPAID and b.due_date < today]
    payment = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI, periods=arrears))).payment
    assert payment.amount_idr == 105_000 and sorted(payment.periods) == sorted(arrears)
    assert payment.virtual_account == "88888" + SITI[2:] and payment.status == membership_pb2.PAYMENT_STATUS_PENDING
    assert 86_000 < payment.expires_at.ToSeconds() - time.time() <= 86_400

    body = callback_body(payment)
    paid = await stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(raw_body=body,
                                                                                        signature=signature(body)))
    assert paid.status == membership_pb2.PAYMENT_STATUS_PAID and not paid.replayed
    siti = await stub.GetMembership(membership_pb2.GetMembershipRequest(noka=SITI))
    assert siti.participant.status == AKTIF and siti.all_family_active
    assert (await stub.ListBills(membership_pb2.ListBillsRequest(noka=SITI))).arrears_total_idr == 0

    replay = await stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(raw_body=body,
                                                                                          signature=signature(body)))
    assert replay.replayed and replay.payment_id == paid.payment_id


async def test_bad_signature_or_wrong_amount_is_refused_and_changes_nothing(membership):
    stub, _ = membership
    payment = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
    body = callback_body(payment, ref="PRV-BAD")
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(
            raw_body=body, signature=signature(body, "not-the-secret")))
    assert decode_rpc_error(forged.value).code == "UNAUTHENTICATED"
    short = callback_body(payment, amount=35_000, ref="PRV-SHORT")
    with pytest.raises(grpc.aio.AioRpcError) as underpaid:
        await stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(raw_body=short,
                                                                                     signature=signature(short)))
    assert decode_rpc_error(underpaid.value).code == "PAYMENT_AMOUNT_MISMATCH"
    siti = await stub.GetMembership(membership_pb2.GetMembershipRequest(noka=SITI))
    assert siti.participant.status == TIDAK_AKTIF
    assert (await stub.ListBills(membership_pb2.ListBillsRequest(noka=SITI))).arrears_total_idr == 105_000


async def test_nothing_to_pay_is_a_validation_error(membership):
    stub, _ = membership
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=DEWI))
    assert decode_rpc_error(caught.value).code == "VALIDATION_ERROR"


async def test_card_signature_verifies_with_the_published_key_and_fails_when_altered(membership):
    import base64
    import json

    import jwt

    stub, _ = membership
    card = (await stub.GetCard(membership_pb2.GetCardRequest(noka=BUDI))).card
    keys = json.loads((await stub.GetCardKeys(membership_pb2.GetCardKeysRequest())).jwks_json)["keys"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == card.key_id))
    claims = jwt.decode(card.qr_payload, key=key, algorithms=["EdDSA"])
    assert (claims["noka"], claims["name"], claims["class"], claims["fktp"]) == (BUDI, "BUDI SANTOSO", 2, "0114U001")
    assert claims["exp"] == card.expires_at.ToSeconds() and card.qr_payload.endswith(card.signature)

    header, payload, sig = card.qr_payload.split(".")
    for field, value in (("name", "BUDI SANTOS0"), ("class", 1), ("fktp", "0114U002"), ("exp", claims["exp"] + 1)):
        forged = {**claims, field: value}
        body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(f"{header}.{body}.{sig}", key=key, algorithms=["EdDSA"])


async def test_agus_changed_fktp_30_days_ago_and_is_told_when_he_may_again(membership):

    stub, _ = membership
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(noka=AGUS, facility_code="0114U001"))
    error = decode_rpc_error(caught.value)
    today = jakarta_today()
    from datetime import timedelta

    assert (error.code, error.http_status) == ("FKTP_CHANGE_TOO_SOON", 409)
    assert error.fields["next_allowed_date"] == fktp.next_change_allowed_on(today - timedelta(days=30)).isoformat()


async def test_dewi_changes_fktp_effective_the_first_of_next_month(membership):

    stub, _ = membership
    reply = await stub.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(noka=DEWI, facility_code="0114U002"))
    today = jakarta_today()
    assert reply.change.effective_date == fktp.effective_date(today).isoformat()
    assert reply.change.facility.name == "Puskesmas Tanah Abang"
    dewi = (await stub.GetParticipant(membership_pb2.GetParticipantRequest(noka=DEWI))).participant
    assert dewi.fktp.code == "0114U001" and dewi.pending_fktp_change.facility.code == "0114U002"
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(noka=DEWI, facility_code="3273U001"))
    assert decode_rpc_error(again.value).code == "FKTP_CHANGE_TOO_SOON"


@pytest.mark.parametrize("code", ["0114R001", "9999X999", "0114U001"])  # a hospital, unknown, her own FKTP
async def test_only_another_fktp_is_a_valid_choice(membership, code):
    stub, _ = membership
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(noka=BUDI, facility_code=code))
    assert decode_rpc_error(caught.value).code == "FACILITY_INVALID"


async def test_a_due_change_is_applied_on_its_date(fresh_database):

    import asyncpg

    from services.kit import db
    from services.kit.seed import seed_once
    from services.membership.app import MIGRATIONS
    from services.membership.seed import seed_demo

    dsn = fresh_database("membership_jobs")
    await db.migrate(dsn, MIGRATIONS)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        today = jakarta_today()
        effective = fktp.effective_date(today)
        await seed_once(pool, service="membership", today=today, seed=seed_demo)
        dewi = await pool.fetchval("SELECT id FROM participants WHERE noka = $1", DEWI)
        await pool.execute("INSERT INTO fktp_changes (participant_id, from_code, to_code, to_name, requested_on,"
                           " effective_date) VALUES ($1, '0114U001', '0114U002', 'Puskesmas Tanah Abang',"
                           " $2, $3)", dewi, today, effective)
        assert await jobs.apply_fktp_changes(pool, effective - timedelta(days=1)) == 0
        assert await jobs.apply_fktp_changes(pool, effective) == 1
        assert await pool.fetchval("SELECT fktp_code FROM participants WHERE id = $1", dewi) == "0114U002"
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = $1",
                                   event_type(events_pb2.FktpChanged)) == 1
    finally:
        await pool.close()


async def test_bills_roll_forward_and_an_unpaid_month_lapses_the_family(fresh_database):

    import asyncpg

    from services.kit import db
    from services.kit.seed import seed_once
    from services.membership.app import MIGRATIONS
    from services.membership.seed import seed_demo

    dsn = fresh_database("membership_bills")
    await db.migrate(dsn, MIGRATIONS)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        today = jakarta_today()
        next_month = fktp.add_months(today.replace(day=1), 1)
        await seed_once(pool, service="membership", today=today, seed=seed_demo)
        # This month is billed (and paid) already, except Siti's while it is not yet due (her seed holds
        # only her past-due months): the first roll bills exactly that one.
        assert await jobs.roll_bills(pool, today) == (int(premiums.due_date(premiums.period_of(today)) >= today), 0)
        assert await jobs.roll_bills(pool, today) == (0, 0)  # idempotent
        billed, lapsed = await jobs.roll_bills(pool, next_month.replace(day=5))
        assert billed == 5 and lapsed == 0  # Budi's three, Siti, Rudi: next month is billed, not yet due
        assert await jobs.roll_bills(pool, next_month.replace(day=5)) == (0, 0)  # idempotent
        billed, lapsed = await jobs.roll_bills(pool, next_month.replace(day=11))
        assert billed == 0 and lapsed == 4  # Budi's family and Rudi missed the 10th; Siti was already inactive
        statuses = dict(await pool.fetch("SELECT noka, status FROM participants"))
        assert statuses[BUDI] == "TIDAK_AKTIF" and statuses[DEWI] == "AKTIF" and statuses[AGUS] == "AKTIF"
    finally:
        await pool.close()


# --- bad input over the wire: a refusal naming the field, never INTERNAL ----------------------------------------


async def refused(call) -> tuple[str, list[str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = decode_rpc_error(caught.value)
    return error.code, [e["field"] for e in error.fields.get("errors", [])]


@pytest.mark.parametrize("participant_id", ["not-a-uuid", "urn:uuid:", "{{}}", "x" * 10_000])
async def test_a_malformed_participant_id_is_not_found(membership, participant_id):
    stub, _ = membership
    assert await refused(stub.GetParticipant(membership_pb2.GetParticipantRequest(
        participant_id=participant_id))) == ("NOT_FOUND", [])


async def test_a_participant_id_from_match_identity_finds_the_participant(membership):
    stub, _ = membership
    match = await stub.MatchIdentity(membership_pb2.MatchIdentityRequest(identifier=BUDI, birth_date="1980-01-15"))
    found = await stub.GetParticipant(membership_pb2.GetParticipantRequest(participant_id=match.participant_id))
    assert found.participant.noka == BUDI


async def test_an_empty_lookup_is_a_validation_error(membership):
    stub, partner = membership
    assert await refused(stub.GetParticipant(membership_pb2.GetParticipantRequest())) == (
        "VALIDATION_ERROR", ["noka"])
    metadata = signed_metadata("dev-secret-0114R001", "0114R001")
    assert await refused(partner.CheckEligibility(partner_pb2.CheckEligibilityRequest(), metadata=metadata)) == (
        "VALIDATION_ERROR", ["noka"])
    assert await refused(partner.CheckEligibility(partner_pb2.CheckEligibilityRequest(
        noka=BUDI, service_date="2026-02-30"), metadata=metadata)) == ("VALIDATION_ERROR", ["service_date"])


@pytest.mark.parametrize(("member", "fields"), [
    ({"relation": 99}, ["members", "members.0.relation"]),
    ({"sex": 42}, ["members.0.sex"]),
    ({"birth_date": "10-04-1988"}, ["members.0.birth_date"]),
])
async def test_an_unknown_enum_value_or_a_malformed_date_in_an_enrolment_names_the_field(membership, member, fields):
    stub, _ = membership
    hendra = {"nik": "3171011004880001", "name": "Hendra Gunawan", "birth_date": "1988-04-10",
              "sex": membership_pb2.SEX_MALE, "relation": membership_pb2.RELATION_HEAD, **member}
    assert await refused(stub.StartEnrollment(membership_pb2.StartEnrollmentRequest(
        kk_number="3171010101260099", address="Jl. Cikini Raya No. 99", phone="081298765432",
        email="keluarga.baru@example.id", care_class=3, fktp_code="0114U001",
        members=[membership_pb2.EnrollmentMember(**hendra)]))) == ("VALIDATION_ERROR", fields)


@pytest.mark.parametrize("care_class", [0, 4, -1, 2**31 - 1])
async def test_an_out_of_range_class_is_a_validation_error(membership, care_class):
    stub, _ = membership
    code, fields = await refused(stub.StartEnrollment(membership_pb2.StartEnrollmentRequest(care_class=care_class)))
    assert code == "VALIDATION_ERROR" and "class" in fields


@pytest.mark.parametrize("code", ["", "x" * 10_000, "0114-U001"])
async def test_a_malformed_facility_code_is_an_invalid_facility(membership, code):
    stub, _ = membership
    assert await refused(stub.RequestFktpChange(membership_pb2.RequestFktpChangeRequest(
        noka=BUDI, facility_code=code))) == ("FACILITY_INVALID", [])


@pytest.mark.parametrize(("change", "field"), [({"paid_at": "2026-11-21T10:30:00"}, "paid_at"),
                                               ({"amount": "1e5"}, "amount"),
                                               ({"provider_ref": "x" * 5000}, "provider_ref")])
async def test_a_malformed_callback_is_a_validation_error_naming_the_field_on_every_retry(membership, change, field):
    import json

    stub, _ = membership
    payment = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
    body = json.dumps({**json.loads(callback_body(payment, ref="PRV-MALFORMED")), **change}).encode()
    for _ in range(3):
        assert await refused(stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(
            raw_body=body, signature=signature(body)))) == ("VALIDATION_ERROR", [field])


async def test_the_payment_request_asked_twice_gets_the_same_virtual_account_and_amount(membership):
    stub, _ = membership
    first = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
    again = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
    assert again == first


async def test_a_payment_superseded_by_a_new_request_is_still_settled_when_the_bank_confirms_it(membership):
    stub, _ = membership
    first = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI))).payment
    oldest = sorted(first.periods)[0]
    newer = (await stub.CreatePayment(membership_pb2.CreatePaymentRequest(noka=SITI, periods=[oldest]))).payment
    assert newer.payment_id != first.payment_id
    body = callback_body(first, ref="PRV-SUPERSEDED")
    paid = await stub.HandlePaymentCallback(membership_pb2.HandlePaymentCallbackRequest(raw_body=body,
                                                                                        signature=signature(body)))
    assert (paid.payment_id, paid.status, paid.replayed) == (first.payment_id, membership_pb2.PAYMENT_STATUS_PAID,
                                                             False)
    assert (await stub.GetMembership(membership_pb2.GetMembershipRequest(noka=SITI))).all_family_active


@pytest.fixture
async def captcha_on(service):
    today = jakarta_today()
    async with (service(MembershipSettings, build, seed_demo_data=True, demo_today=today, captcha="on") as running,
                grpc.aio.insecure_channel(running.address) as channel):
        yield membership_pb2_grpc.MembershipServiceStub(channel)


async def test_with_the_captcha_on_an_enrolment_without_a_passed_captcha_is_refused_before_it_is_read(captcha_on):
    budi = membership_pb2.EnrollmentMember(nik="3171011501800001", name="Budi Santoso", birth_date="1980-01-15",
                                           sex=membership_pb2.SEX_MALE, relation=membership_pb2.RELATION_HEAD)
    application = {"kk_number": "3171010101260099", "address": "Jl. Cikini Raya No. 99", "phone": "081298765432",
                   "email": "keluarga.baru@example.id", "care_class": 3, "fktp_code": "0114U001", "members": [budi]}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await captcha_on.StartEnrollment(membership_pb2.StartEnrollmentRequest(**application))
    assert decode_rpc_error(caught.value).code == "CAPTCHA_REQUIRED"
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as known:  # with one: the rules as before
        await captcha_on.StartEnrollment(membership_pb2.StartEnrollmentRequest(**application, captcha_passed=True))
    assert decode_rpc_error(known.value).code == "ALREADY_REGISTERED"

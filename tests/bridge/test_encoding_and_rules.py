"""The bridge's pure parts: BPJS's response encoding, its codes for the platform's refusals, the
weekly schedule update's plan and the waiting-time dashboard."""

from __future__ import annotations

from datetime import date, timedelta

import grpc
import pytest
from bpjs import Bridging
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.queue.v1 import partner_pb2, queue_pb2
from services.bridge import answers, crypto, dashboard, schedules
from services.kit.errors import RemoteError

PAYLOAD = {"list": [{"namapoli": "Penyakit Dalam", "n": 3, "ok": True, "nama": "SRI RAHAYU – ü"}] * 20}


def test_the_response_round_trips_and_depends_on_the_requests_timestamp():
    sealed = crypto.encrypt(PAYLOAD, cons_id="0114R001", secret="s3cret", timestamp="1700000000")
    assert crypto.decrypt(sealed, cons_id="0114R001", secret="s3cret", timestamp="1700000000") == PAYLOAD
    assert sealed != crypto.encrypt(PAYLOAD, cons_id="0114R001", secret="s3cret", timestamp="1700000001")
    with pytest.raises(ValueError):
        crypto.decrypt(sealed, cons_id="0114R001", secret="s3cret", timestamp="1700000001")


def test_an_unmodified_bpjs_client_decrypts_what_the_bridge_encrypts():
    client = Bridging({"consid": "0114R001", "secret": "s3cret", "user_key": "k", "host": "http://x"}, "antrean")
    sealed = crypto.encrypt(PAYLOAD, cons_id="0114R001", secret="s3cret", timestamp="1700000000")
    assert client._decrypt(sealed, "1700000000") == PAYLOAD
    empty = crypto.encrypt([], cons_id="0114R001", secret="s3cret", timestamp="1")
    assert client._decrypt(empty, "1") == []


def remote(code: str, **fields) -> RemoteError:
    return RemoteError(code, grpc.StatusCode.FAILED_PRECONDITION, "detail", fields)


@pytest.mark.parametrize(("code", "fields", "expected"), [
    ("QUOTA_FULL", {}, (201, 200, "Kuota JKN penuh")),
    ("TASK_ALREADY_RECORDED", {}, (208, 200, "TaskId sudah tercatat")),
    ("DUPLICATE_BOOKING", {"booking_code_taken": True}, (208, 200, "Kode booking sudah terdaftar")),
    ("DUPLICATE_BOOKING", {}, (201, 200, answers.MESSAGES["DUPLICATE_BOOKING"])),
    ("PERMISSION_DENIED", {}, (201, 200, answers.MESSAGES["PERMISSION_DENIED"])),
    ("UNAUTHENTICATED", {}, (401, 401, answers.unauthorised().message)),
    ("DEPENDENCY_UNAVAILABLE", {"retry_after": 7}, (503, 503, answers.unavailable().message)),
    ("INTERNAL", {}, (201, 200, answers.unexpected().message)),
    ("VALIDATION_ERROR", {"errors": [{"field": "booking_code"}, {"field": "at"}]},
     (201, 200, "Data tidak valid: kodebooking, waktu")),
])
def test_platform_refusals_read_as_bpjs_codes(code, fields, expected):
    refusal = answers.from_remote(remote(code, **fields))
    assert (refusal.code, refusal.http_status, refusal.message) == expected
    if code == "DEPENDENCY_UNAVAILABLE":
        assert refusal.headers == {"Retry-After": "7"}


def test_envelopes_of_both_dialects():
    assert answers.envelope(answers.Dialect.ANTREAN, 201, "x") == {"metadata": {"code": 201, "message": "x"},
                                                                   "response": None}
    assert answers.envelope(answers.Dialect.VCLAIM, 200, "OK", "abc") == {"metaData": {"code": "200",
                                                                                      "message": "OK"},
                                                                         "response": "abc"}


def test_weekly_hours_group_days_by_their_times_and_refuse_nonsense():
    assert schedules.weekly_hours([(2, "13:00", "16:00:00")]) == [schedules.Hours((2,), "13:00", "16:00")]
    assert schedules.weekly_hours([(1, "08:00", "12:00"), (3, "08:00", "12:00"), (2, "13:00", "16:00")]) == [
        schedules.Hours((1, 3), "08:00", "12:00"), schedules.Hours((2,), "13:00", "16:00")]
    for bad in ([(0, "08:00", "12:00")], [(8, "08:00", "12:00")], [(1, "12:00", "08:00")],
                [(1, "08:00", "12:00"), (1, "13:00", "14:00")], [(1, "25:00", "26:00")], [(1, "8", "9")]):
        with pytest.raises(answers.Refusal):
            schedules.weekly_hours(bad)


def test_a_dropped_weekday_closes_each_of_its_dates_through_the_booking_window():
    tomorrow = date(2026, 1, 5)  # a Monday
    closed = schedules.dates_to_close(practised={1, 2, 3}, kept={2, 3}, tomorrow=tomorrow)
    assert closed == [tomorrow + timedelta(days=7 * n) for n in range(5)] and closed[-1] < tomorrow + timedelta(30)
    assert schedules.dates_to_close(practised={1, 2}, kept={1, 2, 5}, tomorrow=tomorrow) == []


def _at(minute: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(1_700_000_000 + minute * 60)
    return stamp


def _registration(poli: str, status: int, tasks: dict[int, int]) -> partner_pb2.Registration:
    booking = queue_pb2.Booking(poli=common_pb2.CodeName(code=poli, name=poli.title()), status=status,  # type: ignore[arg-type]
                                tasks=[queue_pb2.TaskTime(task_id=t, at=_at(m)) for t, m in tasks.items()])  # type: ignore[arg-type]
    return partner_pb2.Registration(booking=booking)


def test_the_dashboard_sums_and_averages_each_step_over_the_bookings_that_have_it():
    regs = [_registration("INT", queue_pb2.BOOKING_STATUS_DONE, {1: 0, 2: 10, 3: 12, 4: 40, 5: 50}),
            _registration("INT", queue_pb2.BOOKING_STATUS_SERVING, {3: 0, 4: 20}),
            _registration("INT", queue_pb2.BOOKING_STATUS_CANCELLED, {}),
            _registration("MAT", queue_pb2.BOOKING_STATUS_BOOKED, {})]
    rows = dashboard.waiting_times(regs, facility="0114R001", day="2026-01-05")["list"]
    assert [r["kodepoli"] for r in rows] == ["INT", "MAT"]
    internal = rows[0]
    assert internal["jumlah_antrean"] == 2
    assert [internal[f"waktu_task{n}"] for n in range(1, 7)] == [600, 120, 48 * 60, 600, 0, 0]
    assert [internal[f"avg_waktu_task{n}"] for n in range(1, 7)] == [600, 120, 24 * 60, 600, 0, 0]
    assert rows[1]["jumlah_antrean"] == 1 and rows[1]["avg_waktu_task1"] == 0


def test_user_keys_are_required_and_in_prod_only_the_issued_one_passes():
    from services.bridge.headers import UserKeys

    dev, prod = UserKeys("0114R001:k1", any_key=True), UserKeys("0114R001:k1", any_key=False)
    assert dev.accepts("0114R001", "k1") and not dev.accepts("0114R001", "k2")
    assert dev.accepts("0114U001", "anything") and not dev.accepts("0114U001", "")
    assert prod.accepts("0114R001", "k1") and not prod.accepts("0114U001", "anything")


def test_prod_refuses_the_dev_secrets():
    from pydantic import SecretStr, ValidationError

    from services.bridge.settings import BridgeSettings

    with pytest.raises(ValidationError, match="partner_secrets"):
        BridgeSettings(env="prod")
    assert BridgeSettings(env="prod", partner_secrets=SecretStr("0114R001:s"), user_keys=SecretStr("0114R001:k"))

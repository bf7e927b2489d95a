"""Personal data never reaches a log line unmasked (CONTRACT.md §2, DESIGN.md conventions)."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.logs import JsonFormatter
from services.kit.masking import mask_email, mask_nik, mask_phone, scrub

NIK, NOKA, PHONE, EMAIL = "3171011501800001", "0001234567801", "+6281234500006", "dewi.lestari@example.id"


def test_masks_have_the_contract_shape():
    assert mask_nik(NIK) == "317101******0001"
    assert mask_phone("+6281234500001") == "+62812****0001"
    assert mask_email("budi@example.id") == "b***@example.id"


def test_scrub_masks_every_identifier_in_free_text():
    text = f"nik={NIK} noka={NOKA} phone={PHONE} local=081234500006 email={EMAIL}"
    cleaned = scrub(text)
    for secret in (NIK, NOKA, PHONE, "081234500006", EMAIL, "dewi.lestari"):
        assert secret not in cleaned
    assert "317101******0001" in cleaned and "d***@example.id" in cleaned


def test_scrub_leaves_ordinary_numbers_alone():
    assert scrub("port 50051 took 12.5 ms, 3 retries, code 422") == "port 50051 took 12.5 ms, 3 retries, code 422"


def _log_line(message: str, **fields) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("test.masking")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(message, extra=fields)
    return json.loads(stream.getvalue())


def test_json_log_line_is_an_event_with_masked_fields():
    entry = _log_line("login_failed", identifier=NIK, contact={"phone": PHONE, "email": EMAIL}, attempts=3)
    raw = json.dumps(entry)
    assert entry["event"] == "login_failed" and entry["level"] == "warning" and entry["service"] == "test"
    assert entry["attempts"] == 3
    for secret in (NIK, PHONE, EMAIL):
        assert secret not in raw


def test_exception_text_in_a_log_line_is_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("test.masking.exc")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        raise ValueError(f"no participant {NIK} with email {EMAIL}")
    except ValueError:
        logger.exception("lookup_failed")
    assert NIK not in stream.getvalue() and EMAIL not in stream.getvalue()


def test_a_repeated_clean_field_is_remembered_but_personal_data_is_masked_every_time():
    for _ in range(3):  # the clean RPC name is remembered; the phone number is never taken as clean
        entry = _log_line("rpc_handled", rpc="jkn.notify.v1.NotifyService/GetOtp", destination=PHONE)
        assert entry["rpc"] == "jkn.notify.v1.NotifyService/GetOtp"
        assert entry["destination"] == "+62812****0006"


def test_log_timestamps_are_iso_utc_with_milliseconds():
    from datetime import UTC, datetime

    from services.kit.logs import _Timestamps

    stamps = _Timestamps()
    for created in (1700000000.0, 1700000000.0005, 1700000000.25, 1700000000.9994, 1700000001.5):
        assert stamps.format(created) == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def _scrub_every_time(text: str) -> str:
    """`scrub` without its shortcut for text that cannot hold personal data."""
    from services.kit import masking

    text = masking._EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = masking._PHONE.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)) + m.group(4), text)
    return masking._NIK_OR_CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="0123456789", min_size=8, max_size=16),
                          st.sampled_from(["+62", "62", "08", "@", "@example.id", "a.b", "-", "_", " ", "x"])),
                max_size=6).map("".join))
def test_the_shortcut_for_clean_text_masks_exactly_what_the_patterns_mask(text):
    assert scrub(text) == _scrub_every_time(text)


def test_the_shortest_phone_number_is_still_masked():
    assert scrub("call 08123456789 now") == "call 0812***6789 now"

"""Text with control characters is refused before any handler runs."""

from __future__ import annotations

import pytest

from jkn.notify.v1 import notify_pb2
from jkn.queue.v1 import queue_pb2
from services.kit.errors import ValidationFailed
from services.kit.validation import check_text, field_with_control_characters


def test_nul_bytes_anywhere_are_found_with_their_path():
    assert field_with_control_characters(queue_pb2.CancelBookingRequest(reason="sakit\x00")) == "reason"
    nested = queue_pb2.CreateBookingRequest(caller=queue_pb2.Caller(account_id="a\x1b[31m", noka="1"))
    assert field_with_control_characters(nested) == "caller.account_id"
    in_map = notify_pb2.NotificationRequest(params={"amount": "35.000\x00"})
    assert field_with_control_characters(in_map) == "params"
    with pytest.raises(ValidationFailed):
        check_text(in_map)


def test_ordinary_text_with_newlines_and_tabs_passes():
    check_text(queue_pb2.CancelBookingRequest(reason="Sudah sembuh,\n\tterima kasih — ñ 🙏"))

"""The HTTP SMS gateway provider against a real local HTTP gateway: throttling (408/429 with
``Retry-After``) is waited out and retried, a refusal is permanent at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from services.notify import providers
from services.notify.providers import HttpSms, Outgoing, ProviderError
from tests.notify.test_delivery import SmsSink

MESSAGE = Outgoing(request_id="req-1", channel="sms", to="+6281234509001", subject="", body="Kode 123456")


@pytest.mark.parametrize("status", [408, 429])
async def test_throttling_is_waited_out_and_the_same_message_sent_again(status):
    sink = SmsSink(fail_first=1, fail_status=status, retry_after="1")
    gateway = HttpSms(url=sink.url, token="t", sender="JKN", timeout_s=2, retries=3)
    try:
        await gateway.send(MESSAGE, conn=None)  # type: ignore[arg-type]
    finally:
        await gateway.close()
        sink.close()
    assert sink.calls[MESSAGE.to] == 2 and [m["reference"] for m in sink.received] == ["req-1"]
    assert sink.answered_at[1] - sink.answered_at[0] >= 0.95  # Retry-After: 1, not the 0.2 s backoff


async def test_a_refusal_is_permanent_at_once():
    sink = SmsSink(fail_first=5, fail_status=400)
    gateway = HttpSms(url=sink.url, token="t", sender="JKN", timeout_s=2, retries=3)
    try:
        with pytest.raises(ProviderError) as refused:
            await gateway.send(MESSAGE, conn=None)  # type: ignore[arg-type]
    finally:
        await gateway.close()
        sink.close()
    assert refused.value.permanent and sink.calls[MESSAGE.to] == 1


async def test_a_long_retry_after_hands_the_message_back_to_the_worker():
    sink = SmsSink(fail_first=5, fail_status=429, retry_after="3600")
    gateway = HttpSms(url=sink.url, token="t", sender="JKN", timeout_s=2, retries=3)
    try:
        with pytest.raises(ProviderError) as throttled:
            await gateway.send(MESSAGE, conn=None)  # type: ignore[arg-type]
    finally:
        await gateway.close()
        sink.close()
    assert not throttled.value.permanent and throttled.value.retry_after_s == 3600
    assert sink.calls[MESSAGE.to] == 1


def test_retry_after_reads_seconds_and_http_dates():
    assert providers.retry_after_s("7") == 7.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (providers.retry_after_s(soon) or 0) <= 30
    assert providers.retry_after_s(format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)) == 0.0
    assert providers.retry_after_s(None) is None and providers.retry_after_s("soon") is None

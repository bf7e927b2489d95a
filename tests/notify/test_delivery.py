"""Notify end to end in-process: a code issued over gRPC reaches a real SMTP sink and a local
HTTP SMS gateway through Kafka, checks out, and nothing personal or secret reaches the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.notify.app import build
from services.notify.settings import NotifySettings

PHONE, EMAIL = "+6281234509876", "sinta.dewi@example.id"  # used by no other test


class SmsSink:
    """A local HTTP SMS gateway: records requests; can fail the first N per recipient (503 by
    default, or another status with a ``Retry-After``)."""

    def __init__(self, fail_first: int = 0, *, fail_status: int = 503, retry_after: str | None = None):
        self.received: list[dict] = []
        self.fail_first, self.fail_status, self.retry_after = fail_first, fail_status, retry_after
        self.answered_at: list[float] = []
        self.calls: dict[str, int] = {}  # attempts per recipient
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.calls[body["to"]] = sink.calls.get(body["to"], 0) + 1
                sink.answered_at.append(time.monotonic())
                if sink.calls[body["to"]] <= sink.fail_first:
                    self.send_response(sink.fail_status)
                    if sink.retry_after is not None:
                        self.send_header("Retry-After", sink.retry_after)
                else:
                    sink.received.append({**body, "auth": self.headers["Authorization"]})
                    self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/send"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def sms_sink():
    sink = SmsSink(fail_first=1)
    yield sink
    sink.close()


async def eventually(predicate, timeout_s: float = 30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


def issue_request(channel: int, destination: str, flow: str) -> notify_pb2.IssueOtpRequest:
    return notify_pb2.IssueOtpRequest(purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=flow, channel=channel,
                                      destination=destination, client_ip="10.1.2.3")


async def test_codes_go_out_by_email_and_sms_and_check_out(service, smtp_sink, sms_sink, caplog):
    caplog.set_level(logging.INFO)
    async with (service(NotifySettings, build, smtp_port=smtp_sink.port, sms_gateway_url=sms_sink.url,
                        provider_retries=3) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        mail = await stub.IssueOtp(issue_request(common_pb2.CHANNEL_EMAIL, EMAIL, "flow-mail"))
        sms = await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "081234509876", "flow-sms"))
        assert mail.verification.destination_masked == "s***@example.id"
        assert sms.verification.destination_masked == "+62812****9876"
        assert 295 <= sms.verification.expires_in_s <= 300 and 595 <= mail.verification.expires_in_s <= 600
        assert sms.verification.resend_after_s >= 59 and sms.verification.attempts_left == 5

        message = await eventually(lambda: next((m for m in smtp_sink.messages if m["To"] == EMAIL
                                                 and "verifikasi" in m["Subject"].lower()), None))
        email_code = re.search(r"\b(\d{6})\b", message.get_payload()).group(1)
        text = await eventually(lambda: next((m for m in sms_sink.received if m["to"] == PHONE
                                              and "verifikasi" in m["text"]), None))
        sms_code = re.search(r"\b(\d{6})\b", text["text"]).group(1)
        assert text["auth"] == "Bearer dev-sms-gateway-token" and sms_sink.calls[PHONE] == 2  # a 503, then delivered

        outbox = await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to="081234509876"))
        assert [i.code for i in outbox.items if i.code] == [sms_code]

        wrong = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
            verification_id=sms.verification.verification_id, code="000000" if sms_code != "000000" else "111111",
            purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id="flow-sms"))
        assert (wrong.result, wrong.attempts_left) == (notify_pb2.CHECK_OTP_RESULT_INVALID_CODE, 4)
        for verification, code, flow in ((sms.verification, sms_code, "flow-sms"),
                                          (mail.verification, email_code, "flow-mail")):
            ok = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=verification.verification_id, code=code,
                purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id=flow))
            assert ok.result == notify_pb2.CHECK_OTP_RESULT_APPROVED
            assert ok.status == notify_pb2.VERIFICATION_STATUS_APPROVED

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ResendOtp(notify_pb2.ResendOtpRequest(
                verification_id=sms.verification.verification_id, purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
                flow_id="flow-sms"))
        assert decode_rpc_error(caught.value).code in ("OTP_RESEND_TOO_SOON", "NOT_FOUND")

    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # mail.log: the SMTP sink (a peer)
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in ours)
    assert "otp_issued" in logged and "notification_delivered" in logged
    for secret in (sms_code, email_code, PHONE, "081234509876", EMAIL):
        assert secret not in logged


async def test_foreign_numbers_and_bad_input_are_refused(service):
    async with (service(NotifySettings, build) as running, grpc.aio.insecure_channel(running.address) as channel):
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "+14155550100", "f1"))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "", "f2"))
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "0000000000000000000", "f3"))
    assert decode_rpc_error(foreign.value).code == "DESTINATION_NOT_ALLOWED"
    assert decode_rpc_error(missing.value).code == "VALIDATION_ERROR"
    refused = decode_rpc_error(invalid.value)
    assert (refused.code, refused.fields["errors"][0]["field"]) == ("VALIDATION_ERROR", "destination")


async def test_an_ipv6_client_counts_by_its_64_against_the_per_ip_cap(service):
    """CONTRACT.md §3, per client IP (`contracts.addresses` rule 1, as at the gateway): other
    addresses of one /64 are the same client; the next /64 is another one."""
    a, b = secrets.randbelow(0xFFF0), secrets.randbelow(0xFFF0)  # a network no other test uses

    def request(ip: str) -> notify_pb2.IssueOtpRequest:
        sent = issue_request(common_pb2.CHANNEL_SMS, f"+62813{secrets.randbelow(10**8):08d}", f"v6-{ip}")
        sent.client_ip = ip
        return sent

    async with (service(NotifySettings, build, otp_client_ip_1h=2) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        await stub.IssueOtp(request(f"2001:db8:{a:x}:{b:x}::1"))
        await stub.IssueOtp(request(f"2001:db8:{a:x}:{b:x}:0:0:ffff:2"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.IssueOtp(request(f"2001:db8:{a:x}:{b:x}:abcd:1234:5678:9abc"))
        other = await stub.IssueOtp(request(f"2001:db8:{a:x}:{b + 1:x}::1"))
    assert decode_rpc_error(caught.value).code == "OTP_SEND_LIMIT"
    assert other.verification.status == notify_pb2.VERIFICATION_STATUS_PENDING


async def test_redis_down_fails_closed_and_sends_nothing(service, tmp_path):
    from services.devstack import infra

    redis = infra.redis_server(tmp_path, infra.free_port(), persistent=False)
    redis.start()
    try:
        async with (service(NotifySettings, build, redis_url=f"redis://127.0.0.1:{redis.port}/0") as running,
                    grpc.aio.insecure_channel(running.address) as channel):
            stub = notify_pb2_grpc.NotifyServiceStub(channel)
            redis.stop()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, PHONE, "down"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert decode_rpc_error(caught.value).code == "DEPENDENCY_UNAVAILABLE"
            await asyncio.sleep(1)
            assert (await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=PHONE))).items == []
            redis.start()
            await asyncio.sleep(0.3)
            again = await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, PHONE, "back"))
            assert again.verification.status == notify_pb2.VERIFICATION_STATUS_PENDING
    finally:
        redis.stop()


async def test_resend_over_grpc_sends_the_same_code_and_keeps_the_attempt_count(service):
    async with (service(NotifySettings, build, otp_resend_cooldown_s=0) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        issued = (await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "+6281234500008", "resend"))).verification
        await stub.CheckOtp(notify_pb2.CheckOtpRequest(verification_id=issued.verification_id, code="abcdef",
                                                       purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id="resend"))
        again = (await stub.ResendOtp(notify_pb2.ResendOtpRequest(
            verification_id=issued.verification_id, purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id="resend",
            client_ip="10.1.2.3"))).verification
        assert again.attempts_left == 4 and again.expires_at == issued.expires_at

        async def codes():
            items = (await stub.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to="+6281234500008"))).items
            return [i.code for i in items]

        deadline = time.monotonic() + 30
        while len(await codes()) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        first, second = await codes()
        assert first == second


async def test_lifetime_comes_from_settings_and_an_expired_code_is_refused(service):
    async with (service(NotifySettings, build, otp_sms_ttl_s=1) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        issued = (await stub.IssueOtp(issue_request(common_pb2.CHANNEL_SMS, "+6281234500009", "ttl"))).verification
        assert issued.expires_in_s <= 1
        await asyncio.sleep(1.2)
        checked = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
            verification_id=issued.verification_id, code="123456", purpose=notify_pb2.OTP_PURPOSE_REGISTRATION,
            flow_id="ttl"))
        assert checked.result == notify_pb2.CHECK_OTP_RESULT_EXPIRED
        assert checked.status == notify_pb2.VERIFICATION_STATUS_EXPIRED


def test_metric_labels_carry_no_personal_data():
    from prometheus_client import REGISTRY

    exposed = "\n".join(f"{s.name}{s.labels}" for metric in REGISTRY.collect() for s in metric.samples)
    assert "otp_codes_issued_total" in exposed or "otp_refusals_total" in exposed
    for secret in (PHONE, "081234509876", EMAIL, "6281234500006", "dewi"):
        assert secret not in exposed


def test_every_notification_template_has_both_languages():
    from services.notify import templates

    names = {n.removeprefix("NOTIFICATION_TEMPLATE_").lower() for n in notify_pb2.NotificationTemplate.keys()}  # noqa: SIM118
    assert names - {"unspecified"} == set(templates.TEMPLATES)
    for texts in templates.TEMPLATES.values():
        assert set(texts) == {"id", "en"}
    rendered = templates.render("otp_code", "en", {"code": "123456", "minutes": "5"})
    assert "123456" in rendered.body and "Do NOT share" in rendered.body

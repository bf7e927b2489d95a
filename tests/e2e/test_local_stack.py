"""`make run`: the whole platform comes up, answers, and goes away cleanly."""

from __future__ import annotations

import signal
import socket
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.devstack.launch import SERVICES, Stack, start_stack

pytestmark = pytest.mark.e2e


def test_gateway_is_ready_within_60_seconds_and_dev_outbox_is_empty(stack: Stack):
    assert stack.wait_ready() < 60
    outbox = httpx.get(f"{stack.gateway}/dev/outbox", params={"to": "x"})
    assert outbox.status_code == 200 and outbox.json() == {"items": []}
    assert stack.wait_for_output("JKN platform is up"), "the URLs are printed once the stack is ready"


def test_demo_data_is_there_after_the_first_start(stack: Stack):
    hospitals = httpx.get(f"{stack.gateway}/v1/facilities", params={"type": "FKRTL", "q": "harapan"}).json()
    assert [f["code"] for f in hospitals["items"]] == ["0114R001"]
    assert httpx.get(f"{stack.gateway}/v1/card-keys").json()["keys"][0]["alg"] == "EdDSA"
    from jkn.membership.v1 import membership_pb2, membership_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['membership']}") as channel:
        family = membership_pb2_grpc.MembershipServiceStub(channel).GetMembership(
            membership_pb2.GetMembershipRequest(noka="0001234567801"), timeout=5)
    assert [m.name for m in family.family] == ["BUDI SANTOSO", "SRI RAHAYU", "ANDI SANTOSO"]
    assert family.all_family_active


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_answers_health_and_reflection(stack: Stack, name: str):
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports[name]}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=3)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        requests = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        reply = next(reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(requests, timeout=3))
        names = {s.name for s in reply.list_services_response.service}
    assert any(n.startswith(f"jkn.{name}.v1.") for n in names)
    assert "grpc.health.v1.Health" in names


def test_every_process_serves_red_metrics(stack: Stack):
    httpx.get(f"{stack.gateway}/readyz")
    gateway = httpx.get(f"{stack.gateway}/metrics").text
    assert 'http_requests_total{method="GET",route="/readyz",status="200"}' in gateway
    assert "http_request_duration_seconds_bucket" in gateway
    for name in SERVICES:
        text = httpx.get(f"http://127.0.0.1:{stack.ports[f'{name}_metrics']}/metrics").text
        assert 'grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health"}' \
            in text
        assert "grpc_server_handling_seconds_bucket" in text


def test_a_code_issued_in_the_stack_shows_up_in_the_dev_outbox(stack: Stack):
    from jkn.common.v1 import common_pb2
    from jkn.notify.v1 import notify_pb2, notify_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['notify']}") as channel:
        reply = notify_pb2_grpc.NotifyServiceStub(channel).IssueOtp(notify_pb2.IssueOtpRequest(
            purpose=notify_pb2.OTP_PURPOSE_REGISTRATION, flow_id="e2e-flow", channel=common_pb2.CHANNEL_SMS,
            destination="081234500007", client_ip="127.0.0.1"), timeout=5)
    assert reply.verification.destination_masked == "+62812****0007"
    deadline = time.monotonic() + 30
    items: list = []
    while not items and time.monotonic() < deadline:
        items = httpx.get(f"{stack.gateway}/dev/outbox", params={"to": "081234500007"}).json()["items"]
        time.sleep(0.2)
    assert len(items) == 1
    assert items[0]["channel"] == "sms" and items[0]["to"] == "+6281234500007"
    assert items[0]["code"] and items[0]["code"] in items[0]["body"]


def test_no_personal_data_reaches_the_logs(stack: Stack):
    phone, email = "+6281234500006", "dewi.lestari@example.id"
    for to in (phone, "081234500006", email):
        assert httpx.get(f"{stack.gateway}/dev/outbox", params={"to": to}).status_code == 200
    logs = stack.log() + "".join(p.read_text(errors="replace") for p in (stack.data_dir / "logs").glob("*.log"))
    assert "route=/dev/outbox" in logs  # the requests were logged...
    for secret in (phone, "081234500006", email, "dewi.lestari", "+6281234500007"):
        assert secret not in logs  # ...without who they were about


def test_ctrl_c_stops_everything_within_10_seconds(tmp_path):
    own = start_stack(tmp_path)
    try:
        own.wait_ready()
    finally:
        took = own.stop(signal.SIGINT)
    assert own.process.returncode == 0, own.log()[-2000:]
    assert took < 10
    assert own.listening_ports() == []


def test_a_dying_child_brings_the_stack_down_loudly(tmp_path):
    import psutil

    own = start_stack(tmp_path)
    try:
        own.wait_ready()
        children = psutil.Process(own.process.pid).children()
        notify = next(c for c in children if "services.notify" in " ".join(c.cmdline()))
        notify.kill()
        own.process.wait(15)
    finally:
        own.stop()
    assert own.process.returncode == 1
    assert "notify exited with code -9" in own.log()
    assert own.listening_ports() == []


def test_a_taken_port_stops_start_up_with_one_clear_line(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        own = start_stack(tmp_path, JKN_GATEWAY_PORT=str(port))
        own.process.wait(30)
    assert own.process.returncode == 1
    lines = [line for line in own.log().splitlines() if "✖" in line]
    assert lines == [f"[stack] ✖ port {port} (gateway) is already taken: stop what uses it or set the port's "
                     "JKN_* variable (see README) — stopping the stack"]
    assert "Traceback" not in own.log()


def test_a_missing_binary_stops_start_up_with_one_clear_line(tmp_path):
    own = start_stack(tmp_path, PATH="/nonexistent")
    own.process.wait(30)
    assert own.process.returncode == 1
    assert "redis: binary redis-server not found (run `make setup`)" in own.log()
    assert "Traceback" not in own.log()
    time.sleep(0.5)
    assert own.listening_ports() == []


def test_the_ports_of_one_stack_are_all_different():
    from services.devstack.infra import free_ports

    for _ in range(20):  # one `free_port` after another once gave the SMTP sink and a metrics server one port
        ports = free_ports(14)
        assert len(set(ports)) == 14 and all(1024 < p < 65536 for p in ports)

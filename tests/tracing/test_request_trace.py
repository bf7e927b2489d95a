"""One trace per request, end to end: the gateway's span, gRPC to auth and on to notify, the
outbox relay's PRODUCER span, the delivery worker's CONSUMER span over Kafka, and the delivery
of the SMS itself — every edge parent→child, no personal data or code on any span; probes and
/metrics leave no trace at all."""

from __future__ import annotations

import random
import uuid
from contextlib import AsyncExitStack

import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from services.kit.grpc_server import GrpcServer
from tests.gateway.conftest import BUILDS
from tests.tracing.conftest import attribute_texts, wait_for_spans

BUDI = {"identifier": "3171011501800001", "birth_date": "1980-01-15", "password": "Keluarga#Sehat1"}


@pytest_asyncio.fixture
async def wired_platform(service):
    """notify, queue, membership (demo data) and auth, each knowing the others' addresses."""
    async with AsyncExitStack() as stack:
        addresses: dict[str, str] = {}
        for name in ("notify", "queue", "membership", "auth"):
            settings, build = BUILDS[name]
            peers = {f"{peer}_addr": address for peer, address in addresses.items()}
            extra: dict = {"seed_demo_data": name in ("queue", "membership")}
            if name == "notify":  # this process's other tests send codes from the same test client IP
                extra |= {"otp_client_ip_1h": 100_000, "otp_number_prefix_1h": 100_000}
            running = await stack.enter_async_context(service(settings, build, **peers, **extra))
            addresses[name] = running.address
        yield addresses


def the(spans: list[ReadableSpan], kind: SpanKind, name: str) -> ReadableSpan:
    found = [s for s in spans if s.kind == kind and s.name == name]
    assert len(found) == 1, f"{kind.name} {name!r}: {len(found)} spans among {sorted(s.name for s in spans)}"
    return found[0]


async def test_a_registration_is_one_trace_from_the_gateway_to_the_sms_delivery(spans, wired_platform,
                                                                                gateway_client):
    phone = f"0812{random.randrange(10**8):08d}"
    email = f"budi.{uuid.uuid4().hex[:8]}@example.id"
    spans.clear()
    async with gateway_client(wired_platform) as (_, client):
        started = await client.post("/v1/registrations", json={**BUDI, "phone": phone, "email": email})
        assert started.status_code == 201, started.text

        def request_trace(finished) -> list[ReadableSpan]:
            roots = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /v1/registrations"]
            return [s for s in finished if roots and s.context.trace_id == roots[0].context.trace_id]

        needed = {"POST /v1/registrations", "notify.requests publish", "notify.requests process",
                  "notify deliver sms", "dev_outbox send"}
        await wait_for_spans(spans, lambda finished: needed <= {s.name for s in request_trace(finished)})
        outbox = (await client.get("/dev/outbox", params={"to": "+62" + phone[1:]})).json()["items"]
    code = next(item["code"] for item in outbox if item["code"])
    finished = list(spans.get_finished_spans())
    in_trace = request_trace(finished)

    chain = [
        the(in_trace, SpanKind.SERVER, "POST /v1/registrations"),
        the(in_trace, SpanKind.CLIENT, "jkn.auth.v1.AuthService/StartRegistration"),
        the(in_trace, SpanKind.SERVER, "jkn.auth.v1.AuthService/StartRegistration"),
        the(in_trace, SpanKind.CLIENT, "jkn.notify.v1.NotifyService/IssueOtp"),
        the(in_trace, SpanKind.SERVER, "jkn.notify.v1.NotifyService/IssueOtp"),
        the(in_trace, SpanKind.PRODUCER, "notify.requests publish"),
        the(in_trace, SpanKind.CONSUMER, "notify.requests process"),
        the(in_trace, SpanKind.INTERNAL, "notify deliver sms"),
        the(in_trace, SpanKind.CLIENT, "dev_outbox send"),
    ]
    gateway = chain[0]
    assert gateway.parent is None  # the request is the root: nobody sent a traceparent
    assert {s.context.trace_id for s in chain} == {gateway.context.trace_id}
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, \
            f"{child.name} is not a child of {parent.name}"
    # auth's call to membership hangs off the same auth span
    match_client = the(in_trace, SpanKind.CLIENT, "jkn.membership.v1.MembershipService/MatchIdentity")
    match_server = the(in_trace, SpanKind.SERVER, "jkn.membership.v1.MembershipService/MatchIdentity")
    assert match_client.parent.span_id == chain[2].context.span_id
    assert match_server.parent.span_id == match_client.context.span_id

    assert gateway.attributes["http.route"] == "/v1/registrations"
    assert gateway.attributes["http.response.status_code"] == 201
    consumer = chain[6]
    assert consumer.attributes["messaging.system"] == "kafka"
    assert consumer.attributes["messaging.destination.name"] == "notify.requests"
    assert consumer.attributes["messaging.consumer.group.name"] == "notify-delivery"
    assert chain[7].attributes["notify.result"] == "delivered"

    secrets = [phone[1:], BUDI["identifier"], BUDI["birth_date"], BUDI["password"], email, email.split("@")[0],
               "santoso", code]
    leaks = [(span.name, secret) for span in finished for text in attribute_texts(span) for secret in secrets
             if secret.lower() in text.lower()]
    assert leaks == []


async def test_probes_and_metrics_are_not_traced(spans, gateway_client):
    server = GrpcServer([], host="127.0.0.1", port=0)  # health and reflection only
    await server.start()
    address = f"127.0.0.1:{server.port}"
    try:
        spans.clear()
        async with gateway_client(dict.fromkeys(BUILDS, address)) as (_, client):
            answers = [await client.get(path) for path in ("/healthz", "/readyz", "/metrics", "/dev/outbox")]
            traced = await client.get("/v1/facilities", params={"type": "XX"})  # a 422, but a real route
    finally:
        await server.stop(grace_s=0)
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    finished = await wait_for_spans(spans, lambda f: any(s.kind == SpanKind.SERVER for s in f), timeout_s=5)
    assert [s.name for s in finished] == ["GET /v1/facilities"]
    assert traced.status_code == 422 and finished[0].attributes["http.response.status_code"] == 422
    assert "url.full" not in finished[0].attributes and "http.url" not in finished[0].attributes

"""The OTP engine (services/notify/otp_store.py) against a real Redis: expiry, attempts, resend, limits,
concurrency, outage. The pure code rules (services/notify/otp.py) are tested in test_otp.py."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.devstack import infra
from services.kit.errors import NotFound, dependency_failure
from services.kit.redis import open_redis
from services.notify import otp
from services.notify.otp_store import Limits, OtpSendRefused, OtpStore, QueuedSend, Sent

KEY = otp.parse_code_keys("k1:test-secret")[0]


def send_for(vid: str, n: int = 1) -> QueuedSend:
    return QueuedSend(f"otp:{vid}:{n}", f"payload-{n}".encode())


@pytest.fixture
async def store(redis_url):
    client = open_redis(redis_url)
    yield OtpStore(client, limits=Limits(), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    await client.aclose()


async def issue(store: OtpStore, *, destination: str = "+6281234500006", ip: str = "10.0.0.1", ttl_s: int = 300,
                idempotency_key: str = "", flow: str = "flow-1") -> tuple[str, bytes, Sent | str]:
    vid, nonce = uuid.uuid4().hex, otp.new_nonce()
    sent = await store.issue(
        verification_id=vid, purpose="registration", flow_id=flow, channel="sms", destination=destination,
        destination_hash=otp.destination_hash(KEY, destination), client_ip=ip, number_prefix=destination[1:8],
        ttl_s=ttl_s, idempotency_key=idempotency_key, kid=KEY.kid, nonce=nonce,
        verifier=otp.verifier(KEY, vid, otp.derive_code(KEY, vid, nonce)), send=send_for(vid))
    return vid, nonce, sent


async def check(store: OtpStore, vid: str, nonce: bytes, code: str, flow: str = "flow-1"):
    """The check as notify runs it: the guess's verifier, counted and compared in one Redis step."""
    outcome = await store.verify(verification_id=vid, purpose="registration", flow_id=flow,
                                 candidates=otp.candidate_verifiers([KEY], vid, code))
    assert outcome is not None
    return outcome


async def resend(store: OtpStore, vid: str, n: int = 2, **kwargs):
    return await store.resend(verification_id=vid, purpose="registration", flow_id="flow-1",
                              client_ip=kwargs.pop("client_ip", "10.0.0.1"),
                              number_prefix=kwargs.pop("number_prefix", "6281234"), send=send_for(vid, n))


async def test_right_code_approves_once_and_only_once(store):
    vid, nonce, _ = await issue(store)
    code = otp.derive_code(KEY, vid, nonce)
    assert (await check(store, vid, nonce, code)).result == "approved"
    assert (await check(store, vid, nonce, code)).result == "not_pending"


async def test_code_is_bound_to_its_flow(store):
    vid, nonce, _ = await issue(store)
    with pytest.raises(NotFound):
        await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce), flow="another-flow")


async def test_five_wrong_codes_kill_the_verification(store):
    vid, nonce, _ = await issue(store)
    wrong = "000000" if otp.derive_code(KEY, vid, nonce) != "000000" else "111111"
    left = [(await check(store, vid, nonce, wrong)).attempts_left for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    assert (await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))).result == "max_attempts_reached"


async def test_code_expires(store):
    vid, nonce, _ = await issue(store, ttl_s=1)
    await asyncio.sleep(1.1)
    assert (await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))).result == "expired"


async def test_resend_is_refused_during_the_cooldown_with_retry_after(store):
    vid, _, _ = await issue(store)
    with pytest.raises(OtpSendRefused) as caught:
        await resend(store, vid)
    assert caught.value.code == "OTP_RESEND_TOO_SOON"
    assert 55 <= caught.value.fields["retry_after"] <= 60


async def test_resend_keeps_the_code_and_the_attempt_count(redis_url):
    client = open_redis(redis_url)
    store = OtpStore(client, limits=Limits(resend_cooldown_s=0), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    try:
        vid, nonce, first = await issue(store)
        await check(store, vid, nonce, "999999" if otp.derive_code(KEY, vid, nonce) != "999999" else "888888")
        again = await resend(store, vid)
        assert isinstance(first, Sent) and again.expires_at_ms == first.expires_at_ms
        state = await store.load(vid)
        assert state is not None and state["checks"] == "1" and state["sends"] == "2"
        assert bytes.fromhex(state["nonce"]) == nonce  # the same code goes out again
    finally:
        await client.aclose()


async def test_destination_caps_per_10_minutes(store):
    for n in range(5):
        await issue(store, ip=f"10.0.1.{n}", flow=f"f{n}")
    with pytest.raises(OtpSendRefused) as caught:
        await issue(store, ip="10.0.1.99", flow="f99")
    assert (caught.value.code, caught.value.rule) == ("OTP_SEND_LIMIT", "destination_10m")
    assert 590 <= caught.value.fields["retry_after"] <= 600


async def test_client_ip_cap_per_hour(store):
    for n in range(30):
        await issue(store, destination=f"+62812345{n:05d}", ip="10.9.9.9", flow=f"f{n}")
    with pytest.raises(OtpSendRefused) as caught:
        await issue(store, destination="+6281299999999", ip="10.9.9.9")
    assert caught.value.rule == "client_ip_1h" and caught.value.fields["retry_after"] > 3500


async def test_repeated_idempotency_key_returns_the_same_verification_without_a_second_send(store):
    vid, _, _ = await issue(store, idempotency_key="idem-1")
    _, _, again = await issue(store, idempotency_key="idem-1")
    assert again == vid
    assert (await store.load(vid))["sends"] == "1"


async def test_fifty_concurrent_checks_of_the_right_code_approve_exactly_once(store):
    vid, nonce, _ = await issue(store)
    code = otp.derive_code(KEY, vid, nonce)
    results = await asyncio.gather(*(check(store, vid, nonce, code) for _ in range(50)))
    assert [r.result for r in results].count("approved") == 1
    assert [r.result for r in results].count("not_pending") == 49


async def test_concurrent_guessing_never_gets_more_than_five_tries(store):
    vid, nonce, _ = await issue(store)
    code = otp.derive_code(KEY, vid, nonce)
    guesses = [f"{n:06d}" for n in range(50) if f"{n:06d}" != code][:49] + [code]
    results = await asyncio.gather(*(check(store, vid, nonce, g) for g in guesses))
    invalid, approved = [r.result for r in results].count("invalid"), [r.result for r in results].count("approved")
    assert invalid <= 5
    assert approved == 0 or invalid < 5  # the right code counts only if it came before the fifth miss


async def test_fifty_concurrent_resends_never_exceed_the_limits(redis_url):
    client = open_redis(redis_url)
    store = OtpStore(client, limits=Limits(resend_cooldown_s=0), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")
    try:
        vid, _, _ = await issue(store)

        async def one(n: int):
            try:
                await resend(store, vid, n)
                return True
            except OtpSendRefused:
                return False

        sent = sum(await asyncio.gather(*(one(n) for n in range(2, 52))))
        assert sent == 4  # 5 sends per destination per 10 minutes, the first was the issue
        assert (await store.load(vid))["sends"] == "5"
    finally:
        await client.aclose()


async def test_redis_down_fails_closed(tmp_path):
    server = infra.redis_server(tmp_path, infra.free_port(), persistent=False)
    server.start()
    client = open_redis(f"redis://127.0.0.1:{server.port}/0", timeout_s=0.5)
    store = OtpStore(client, limits=Limits())
    try:
        vid, _, _ = await issue(store)
        server.stop()
        with pytest.raises(Exception) as caught:  # noqa: B017 - the client's error, mapped below
            await issue(store)
        assert dependency_failure(caught.value) is not None
        server.start()
        await asyncio.sleep(0.2)
        _, _, sent = await issue(store, destination="+6281234500099")
        assert isinstance(sent, Sent)
    finally:
        await client.aclose()
        server.stop()


def store_with(redis_client, **limits) -> OtpStore:
    return OtpStore(redis_client, limits=Limits(**limits), prefix=f"otp-test:{uuid.uuid4().hex[:8]}:")


async def test_destination_cap_per_24_hours(redis_url):
    client = open_redis(redis_url)
    try:
        store = store_with(client, destination_10m=100)
        for n in range(10):
            await issue(store, ip=f"10.0.2.{n}", flow=f"f{n}")
        with pytest.raises(OtpSendRefused) as caught:
            await issue(store, ip="10.0.2.99", flow="f99")
        assert caught.value.rule == "destination_24h" and caught.value.fields["retry_after"] > 86000
    finally:
        await client.aclose()


async def test_number_prefix_cap_stops_pumping_across_many_numbers(redis_url):
    client = open_redis(redis_url)
    try:
        store = store_with(client, number_prefix_1h=3)
        for n in range(3):
            await issue(store, destination=f"+628123450{n:04d}", ip=f"10.0.3.{n}")
        with pytest.raises(OtpSendRefused) as caught:
            await issue(store, destination="+6281234509999", ip="10.0.3.99")
        assert caught.value.rule == "number_prefix_1h"
        _, _, other_prefix = await issue(store, destination="+6285712340001", ip="10.0.3.98")
        assert isinstance(other_prefix, Sent)
    finally:
        await client.aclose()


async def test_hourly_sms_budget_trips_the_breaker_until_the_hour_ends(redis_url):
    client = open_redis(redis_url)
    try:
        store = store_with(client, sms_budget_1h=2)
        await issue(store, destination="+6281200000001", ip="10.0.4.1")
        await issue(store, destination="+6285700000002", ip="10.0.4.2")
        with pytest.raises(OtpSendRefused) as caught:
            await issue(store, destination="+6281300000003", ip="10.0.4.3")
        assert caught.value.rule == "sms_budget" and 0 < caught.value.fields["retry_after"] <= 3600
    finally:
        await client.aclose()


async def test_an_undeliverable_code_marks_the_verification_failed(store):
    vid, nonce, _ = await issue(store)
    await store.mark_failed(vid)
    assert (await store.load(vid))["status"] == "failed"
    assert (await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))).result == "not_pending"


# --- the send queued in the same step; verifiers ------------------------------------------------


async def queued(store: OtpStore) -> list[str]:
    return [fields[b"id"].decode() for _, fields in await store.redis.xrange(store.outbox)]


async def test_a_send_is_queued_in_the_step_that_allows_it_and_only_then(redis_url):
    client = open_redis(redis_url)
    try:
        store = store_with(client, destination_10m=2)
        vid, _, _ = await issue(store, idempotency_key="idem-q")
        assert await queued(store) == [f"otp:{vid}:1"]
        _, _, again = await issue(store, idempotency_key="idem-q")  # the same verification: no second send
        assert again == vid
        with pytest.raises(OtpSendRefused):
            await resend(store, vid)  # the cooldown
        other, _, _ = await issue(store, flow="flow-2")
        with pytest.raises(OtpSendRefused):
            await issue(store, flow="flow-3")  # the destination's cap
        assert await queued(store) == [f"otp:{vid}:1", f"otp:{other}:1"]
        fields = (await client.xrange(store.outbox))[0][1]
        assert fields[b"payload"] == b"payload-1"
    finally:
        await client.aclose()


async def test_a_resend_queues_its_send_with_the_resend(redis_url):
    client = open_redis(redis_url)
    try:
        store = store_with(client, resend_cooldown_s=0)
        vid, _, _ = await issue(store)
        await resend(store, vid, 2)
        assert await queued(store) == [f"otp:{vid}:1", f"otp:{vid}:2"]
    finally:
        await client.aclose()


async def test_the_code_itself_is_never_stored(store):
    vid, nonce, _ = await issue(store)
    state = await store.load(vid)
    assert state is not None and otp.derive_code(KEY, vid, nonce) not in state.values()
    assert state["verifier"] == otp.verifier(KEY, vid, otp.derive_code(KEY, vid, nonce))


async def test_anything_but_six_ascii_digits_is_a_counted_wrong_guess(store):
    vid, nonce, _ = await issue(store)
    results = [await check(store, vid, nonce, bad) for bad in ("", "12345", "１２３４５６", "abcdef", "1234567")]
    assert [(r.result, r.attempts_left) for r in results] == [("invalid", 4), ("invalid", 3), ("invalid", 2),
                                                              ("invalid", 1), ("invalid", 0)]
    assert (await check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))).result == "max_attempts_reached"


async def test_fifty_parallel_wrong_codes_get_exactly_five_answers_then_the_verification_is_dead(store):
    vid, nonce, _ = await issue(store)
    code = otp.derive_code(KEY, vid, nonce)
    wrong = [f"{n:06d}" for n in range(51) if f"{n:06d}" != code][:50]
    results = await asyncio.gather(*(check(store, vid, nonce, g) for g in wrong))
    assert [r.result for r in results].count("invalid") == 5
    assert [r.result for r in results].count("max_attempts_reached") == 45
    assert (await store.load(vid))["checks"] == "5"
    assert (await check(store, vid, nonce, code)).result == "max_attempts_reached"


async def test_a_code_issued_under_an_older_key_checks_while_that_key_is_held(store):
    vid, nonce, _ = await issue(store)  # under KEY (k1)
    code, newer = otp.derive_code(KEY, vid, nonce), otp.CodeKey("k2", b"newer-secret")
    dropped = await store.verify(verification_id=vid, purpose="registration", flow_id="flow-1",
                                 candidates=otp.candidate_verifiers([newer], vid, code))
    assert dropped is not None and dropped.result == "invalid"  # k1 no longer held: no code of it checks
    rotated = await store.verify(verification_id=vid, purpose="registration", flow_id="flow-1",
                                 candidates=otp.candidate_verifiers([newer, KEY], vid, code))
    assert rotated is not None and rotated.result == "approved"


async def test_a_verification_from_before_verifiers_is_checked_the_old_way(store):
    vid, nonce, _ = await issue(store)
    await store.redis.hdel(f"{store.prefix}v:{vid}", "verifier")
    code = otp.derive_code(KEY, vid, nonce)
    assert await store.verify(verification_id=vid, purpose="registration", flow_id="flow-1",
                              candidates=otp.candidate_verifiers([KEY], vid, code)) is None
    outcome = await store.check(verification_id=vid, purpose="registration", flow_id="flow-1",
                                code_ok=otp.code_matches(KEY, vid, nonce, code))
    assert outcome.result == "approved"


async def test_concurrent_steps_share_round_trips_and_survive_a_script_flush(store):
    """Calls of one event-loop turn go out as one pipeline; Redis forgetting the script (a restart,
    SCRIPT FLUSH) costs a reload, never a wrong answer."""
    issued = [await issue(store, destination=f"+62812345{n:05d}", ip=f"10.0.5.{n}", flow="flow-1")
              for n in range(4)]
    await store.redis.script_flush()
    results = await asyncio.gather(*(check(store, vid, nonce, otp.derive_code(KEY, vid, nonce))
                                     for vid, nonce, _ in issued),
                                   *(check(store, vid, nonce, "not-a-code") for vid, nonce, _ in issued))
    assert [r.result for r in results] == ["approved"] * 4 + ["not_pending"] * 4

"""Who the client is (`client_ip`): X-Forwarded-For only from trusted proxies, the right-most
untrusted address; per-IP limits count an IPv6 client by its /64."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

from services.gateway.client_ip import limit_key, parse_networks, resolve
from services.gateway.deps import ClientIp
from services.gateway.settings import GatewaySettings

PROXIES = parse_networks("10.0.0.0/8, 2001:db8:ffff::/48")


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("203.0.113.9", [], "203.0.113.9"),
    ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer's header is its own invention
    ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # the ingress forwarded it
    ("10.1.2.3", ["1.1.1.1", "198.51.100.1"], "198.51.100.1"),  # the client wrote 1.1.1.1 itself
    ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], "198.51.100.1"),  # two trusted hops
    ("10.1.2.3", ["10.9.9.9", "10.8.8.8"], "10.9.9.9"),  # every hop trusted: the first
    ("10.1.2.3", ["not-an-ip", "10.9.9.9"], "10.9.9.9"),  # garbage ends the walk at the last good hop
    ("10.1.2.3", ["198.51.100.1:4711"], "198.51.100.1"),  # a port is not part of the address
    ("10.1.2.3", ["[2001:db8:1:2::7]:443"], "2001:db8:1:2::7"),
    ("2001:db8:ffff:1::1", ["2001:db8:1:2::7"], "2001:db8:1:2::7"),
    ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # an IPv4-mapped peer is its IPv4 address
    ("10.1.2.3", [], "10.1.2.3"),
])
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(peer, forwarded, client):
    assert resolve(peer, forwarded, PROXIES) == client


def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_it_forwards():
    assert resolve("10.1.2.3", ["198.51.100.1"], ()) == "10.1.2.3"


def test_ipv6_clients_are_limited_by_their_64_and_ipv4_by_their_address():
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert limit_key("::ffff:198.51.100.1") == limit_key("198.51.100.1") == "198.51.100.1"


def test_trusted_proxies_must_be_cidrs():
    assert GatewaySettings(trusted_proxies="").trusted_networks == ()
    with pytest.raises(ValidationError, match="CIDRs"):
        GatewaySettings(trusted_proxies="*")


@asynccontextmanager
async def client_from(app, peer: str):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_account_routes_count_an_ipv6_client_by_its_64(gateway_client):
    site = f"2001:db8:{secrets.randbelow(0xffff):x}"  # this test's own addresses (the Redis is shared)
    async with gateway_client({}, auth_rate_per_min=2) as (app, _):
        answers = []
        for host in (f"{site}:1::1", f"{site}:1:aaaa::2", f"{site}:1:ffff:1:2:3"):
            async with client_from(app, host) as client:
                answers.append((await client.get("/v1/captcha")).status_code)
        async with client_from(app, f"{site}:2::1") as neighbour:  # the next /64
            other = (await neighbour.get("/v1/captcha")).status_code
    assert answers == [200, 200, 429]  # three addresses, one /64, one allowance
    assert other == 200


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(gateway_client):
    async with gateway_client({}, trusted_proxies="10.0.0.0/8") as (app, _):
        @app.get("/probe-ip")
        async def probe(ip: ClientIp) -> dict:
            return {"ip": ip}

        async def seen(peer: str, forwarded: str | None) -> str:
            async with client_from(app, peer) as client:
                headers = {"X-Forwarded-For": forwarded} if forwarded else {}
                return (await client.get("/probe-ip", headers=headers)).json()["ip"]

        assert await seen("10.0.0.5", "1.1.1.1, 198.51.100.1") == "198.51.100.1"
        assert await seen("203.0.113.9", "198.51.100.1") == "203.0.113.9"
        assert await seen("10.0.0.5", None) == "10.0.0.5"
    async with gateway_client({}) as (app, _):  # the default trusts nobody
        @app.get("/probe-ip")
        async def probe_default(ip: ClientIp) -> dict:
            return {"ip": ip}

        async with client_from(app, "10.0.0.5") as client:
            response = await client.get("/probe-ip", headers={"X-Forwarded-For": "198.51.100.1"})
        assert response.json()["ip"] == "10.0.0.5"


async def test_a_forged_x_forwarded_for_does_not_escape_the_per_ip_limit(gateway_client):
    async with gateway_client({}, auth_rate_per_min=2, trusted_proxies="10.0.0.0/8") as (app, _):
        attacker = f"203.0.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
        statuses = []
        for n in range(3):
            async with client_from(app, attacker) as client:
                statuses.append((await client.get("/v1/captcha", headers={
                    "X-Forwarded-For": f"198.51.100.{n}"})).status_code)
    assert statuses == [200, 200, 429]

"""Client addresses as per-IP limits count them (contracts.addresses rule 1)."""

from __future__ import annotations

from services.contracts.addresses import limit_key, parse_address


def test_ipv6_clients_count_by_their_64_and_ipv4_by_the_address():
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.1") == "198.51.100.1" != limit_key("198.51.100.2")
    assert limit_key("::ffff:198.51.100.1") == "198.51.100.1"


def test_addresses_are_read_as_peers_and_proxies_write_them():
    assert str(parse_address("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_address("192.0.2.1:8080")) == "192.0.2.1"
    assert parse_address("not an address") is None
    assert limit_key("") == "unknown"

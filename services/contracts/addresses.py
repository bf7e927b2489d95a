"""Client addresses as the per-IP limits of every service count them (the gateway's request limits,
notify's per-IP cap on code sends).

- Rule 1: an IPv4 address counts as itself; an IPv6 address by its /64 — one subscriber usually
  gets a whole /64 and can pick any address in it, so a per-address key would be no limit at
  all. IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) are the IPv4 address.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The prefix per-IP limits count an IPv6 client by.
IPV6_KEY_PREFIX = 64


def parse_address(raw: str) -> IPAddress | None:
    """An address as peers and proxies write it (``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]:443``,
    ``192.0.2.1:8080``); None when it is not one."""
    text = raw.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # no zone ids
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address



def limit_key(address: str) -> str:
    """The key per-IP limits count ``address`` under: an IPv4 address as it is, an IPv6 address as
    its /64 (``2001:db8:1:2::/64``)."""
    parsed = parse_address(address)
    if parsed is None:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_KEY_PREFIX), strict=False))
    return str(parsed)

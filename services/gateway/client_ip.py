"""Who the client is: its address behind trusted proxies, and the key its per-IP limits count under.

- The TCP peer is the client, unless the peer is one of the trusted proxies
  (``JKN_GATEWAY_TRUSTED_PROXIES``, CIDRs; none by default). Only then is ``X-Forwarded-For``
  read, from the right: each trusted proxy appends the address it saw, so the right-most
  address that is not a trusted proxy is the client. Whatever stands left of it was written by
  the client itself and is never believed. A malformed entry ends the walk at the last good hop.
- Per-IP limits count an IPv6 client by its /64 (`contracts.addresses`, shared with notify).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import Scope

from services.contracts.addresses import IPV6_KEY_PREFIX, IPAddress, limit_key, parse_address

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network



def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 2001:db8::/32, 192.0.2.7"`` → networks; ValueError on a malformed entry."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, in order (several headers are one list, RFC 9110 §5.3)."""
    entries: list[str] = []
    for name, value in headers:
        if name.lower() == b"x-forwarded-for":
            entries += [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]
    return entries


def resolve(peer: str, forwarded: Sequence[str], proxies: Sequence[IPNetwork]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy, then the right-most untrusted
    ``X-Forwarded-For`` address (the left-most one when every hop is trusted)."""
    client = parse_address(peer)
    if client is None:
        return peer  # not an IP peer (a test transport, a unix socket): nothing to resolve
    if not proxies or not _trusted(client, proxies):
        return str(client)
    for entry in reversed(forwarded):
        hop = parse_address(entry)
        if hop is None:
            break  # written by someone untrusted: the last good hop is as far as we can see
        client = hop
        if not _trusted(hop, proxies):
            break
    return str(client)


def client_address(scope: Scope, proxies: Sequence[IPNetwork]) -> str:
    """The resolved client address of an ASGI request ("" when the server gave no peer)."""
    peer = scope.get("client")
    if not peer:
        return ""
    return resolve(str(peer[0]), forwarded_for(scope.get("headers", [])) if proxies else [], proxies)


__all__ = ["IPV6_KEY_PREFIX", "client_address", "forwarded_for", "limit_key", "parse_address", "parse_networks",
           "resolve"]

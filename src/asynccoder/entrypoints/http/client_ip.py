"""The client's IP address, believing ``X-Forwarded-For`` only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_CLIENT = "unknown"


@lru_cache(maxsize=16)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """The address a request came from.

    ``peer`` is the ASGI peer address. When it is a trusted proxy, the ``X-Forwarded-For`` hops (all header
    lines, in order) are walked from the right: trusted proxies are skipped and the first untrusted hop is
    the client. Anything unparseable stops the walk at the last address known to be real, so a client
    cannot choose its own address by sending the header.
    """
    address = _address(peer) if peer else None
    if address is None:
        return UNKNOWN_CLIENT

    def is_trusted(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(a in network for network in trusted)

    if not is_trusted(address):
        return str(address)
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = _address(hop)
        if hop_address is None:
            return str(address)
        address = hop_address
        if not is_trusted(address):
            return str(address)
    return str(address)

"""Resolving a webhook host with the system resolver."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from asynccoder.application.ports.outbound_webhooks import HostResolver

LOOKUP_TIMEOUT_SECONDS = 5.0


class SystemHostResolver(HostResolver):
    """``getaddrinfo`` on the event loop's executor, at most 5 s; an IP literal is returned as it is."""

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        lookup = asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        try:
            infos = await asyncio.wait_for(lookup, LOOKUP_TIMEOUT_SECONDS)
        except TimeoutError:
            raise OSError(f"looking up {host} timed out") from None
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        return addresses

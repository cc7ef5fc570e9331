"""Resolving a webhook host with the system resolver."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from asynccoder.application.ports.outbound_webhooks import HostResolver


class SystemHostResolver(HostResolver):
    """``getaddrinfo`` on the event loop's executor; an IP literal is returned as it is."""

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        return addresses

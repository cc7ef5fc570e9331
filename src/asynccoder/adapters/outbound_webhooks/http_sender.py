"""Sending a webhook over HTTP to the address the application checked."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx

from asynccoder.application.ports.outbound_webhooks import WebhookRequest, WebhookResponse, WebhookSender


def pinned_url(url: str, address: str) -> str:
    """``url`` with its host replaced by ``address`` (IPv6 in brackets), port and path kept."""
    parts = urlsplit(url)
    host = f"[{address}]" if isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address) else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class HttpxWebhookSender(WebhookSender):
    """POSTs to the checked IP with ``Host`` and TLS SNI set to the URL's host, so the certificate is still
    verified for that name and a second DNS lookup cannot send the request elsewhere. No redirects are
    followed; the response body is not read."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        headers = {**request.headers, "host": parts.netloc.rsplit("@", 1)[-1]}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        outgoing = self._client.build_request(
            "POST",
            pinned_url(request.url, request.address),
            headers=headers,
            content=request.body,
            timeout=httpx.Timeout(request.timeout_seconds),
            extensions=extensions,
        )
        started = time.perf_counter()
        try:
            response = await self._client.send(outgoing, stream=True, follow_redirects=False)
            await response.aclose()
        except httpx.TimeoutException:
            return WebhookResponse(None, _elapsed(started), "timed out")
        except httpx.HTTPError as exc:
            return WebhookResponse(None, _elapsed(started), f"connection failed ({type(exc).__name__})")
        return WebhookResponse(response.status_code, _elapsed(started))


def _elapsed(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


@asynccontextmanager
async def webhook_http_client() -> AsyncIterator[httpx.AsyncClient]:
    """One pooled client for every delivery; no environment proxies (requests go where they were checked)."""
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        yield client

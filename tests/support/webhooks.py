"""Outbound webhook test kit: a local receiver that records and verifies deliveries, a scripted DNS, and a
builder wiring the use cases over any unit-of-work factory."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asynccoder.adapters.crypto.secret_box import AesGcmSecretBox
from asynccoder.adapters.outbound_webhooks.http_sender import HttpxWebhookSender
from asynccoder.application.outbound_webhooks.delivery import DeliverWebhooks
from asynccoder.application.outbound_webhooks.endpoints import (
    CreateWebhookEndpoint,
    CreateWebhookEndpointCommand,
    EndpointWithSecret,
    WebhookPolicy,
)
from asynccoder.application.ports.outbound_webhooks import (
    HostResolver,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
)
from asynccoder.application.ports.system import Clock, IdGenerator
from asynccoder.application.ports.uow import UnitOfWork
from asynccoder.domain.identity import User
from tests.support.local_http import LocalServer, Request


class WebhookReceiver:
    """A user's receiver on 127.0.0.1: answers ``status`` (settable), records each request, and checks each
    signature against the secrets it was given (as a receiver following Standard Webhooks would)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.secrets: list[str] = []
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle)

    def _handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        return self.status, {}, b""

    @property
    def url(self) -> str:
        return f"{self.server.url}/hooks/asynccoder"

    @property
    def requests(self) -> list[Request]:
        return list(self.server.requests)

    def event_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.server.requests]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.server.requests]

    def verified(self, request: Request, secret: str) -> bool:
        signed = (
            f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
        )
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        given = [s.split(",", 1)[1] for s in request.headers["webhook-signature"].split(" ")]
        return any(hmac.compare_digest(expected, g) for g in given)

    def close(self) -> None:
        self.server.close()


@dataclass
class ScriptedHostResolver(HostResolver):
    """Answers from ``answers`` (host -> addresses), which a test may change between calls (DNS rebinding);
    IP literals resolve to themselves; unknown names raise ``OSError`` like a failed lookup."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host in self.answers:
            return list(self.answers[host])
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        raise OSError(f"no such host {host}")


@dataclass
class RecordingWebhookSender(WebhookSender):
    """Records requests and answers ``status`` without any network (for unit tests)."""

    status: int = 200
    sent: list[WebhookRequest] = field(default_factory=list)

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        self.sent.append(request)
        return WebhookResponse(self.status, 3)


BOX = AesGcmSecretBox([("k1", b"\x09" * 32)])


@dataclass
class WebhookKit:
    """The outbound webhook use cases over ``new_uow`` with one policy, resolver and sender."""

    new_uow: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdGenerator
    policy: WebhookPolicy = field(default_factory=lambda: WebhookPolicy(production=False))
    resolver: HostResolver = field(default_factory=ScriptedHostResolver)
    sender: WebhookSender = field(default_factory=RecordingWebhookSender)

    async def register(self, user: User, url: str, **changes: Any) -> EndpointWithSecret:
        create = CreateWebhookEndpoint(self.new_uow(), self.ids, self.clock, BOX, self.resolver, self.policy)
        return await create(CreateWebhookEndpointCommand(actor=user.as_actor(), url=url, **changes))

    def deliver(self) -> DeliverWebhooks:
        return DeliverWebhooks(self.new_uow(), self.clock, BOX, self.resolver, self.sender, self.policy)


def http_sender(client: Any) -> HttpxWebhookSender:
    return HttpxWebhookSender(client)

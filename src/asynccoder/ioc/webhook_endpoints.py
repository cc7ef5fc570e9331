"""Wiring of outbound webhooks: endpoint use cases (REQUEST scope), the resolver, the HTTP sender (APP scope)
and ``make_webhook_delivery_loop`` for the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dishka import AsyncContainer, Provider, Scope, provide, provide_all

from asynccoder.adapters.outbound_webhooks.dns_resolver import SystemHostResolver
from asynccoder.adapters.outbound_webhooks.http_sender import HttpxWebhookSender, webhook_http_client
from asynccoder.application.outbound_webhooks.delivery import DeliverWebhooks, WebhookDeliveryLoop
from asynccoder.application.outbound_webhooks.endpoints import (
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
    GetWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    ReplayWebhookDelivery,
    RotateWebhookEndpointSecret,
    UpdateWebhookEndpoint,
    WebhookPolicy,
)
from asynccoder.application.ports.outbound_webhooks import HostResolver, WebhookSender
from asynccoder.ioc.settings import Settings


class WebhookEndpointsProvider(Provider):
    """Production refuses http and non-public addresses (``Settings.is_production``); development allows
    ``http://127.0.0.1`` receivers for local testing."""

    @provide(scope=Scope.APP)
    def policy(self, settings: Settings) -> WebhookPolicy:
        return WebhookPolicy(production=settings.is_production)

    @provide(scope=Scope.APP)
    def resolver(self) -> HostResolver:
        return SystemHostResolver()

    @provide(scope=Scope.APP)
    async def sender(self) -> AsyncIterator[WebhookSender]:
        async with webhook_http_client() as client:
            yield HttpxWebhookSender(client)

    use_cases = provide_all(
        CreateWebhookEndpoint,
        ListWebhookEndpoints,
        GetWebhookEndpoint,
        UpdateWebhookEndpoint,
        DeleteWebhookEndpoint,
        RotateWebhookEndpointSecret,
        ListWebhookDeliveries,
        ReplayWebhookDelivery,
        DeliverWebhooks,
        scope=Scope.REQUEST,
    )


def make_webhook_delivery_loop(container: AsyncContainer, worker_id: str) -> WebhookDeliveryLoop:
    """A delivery loop over ``container``: each pass gets a fresh REQUEST scope (its own unit of work)."""

    @asynccontextmanager
    async def scope() -> AsyncIterator[DeliverWebhooks]:
        async with container(scope=Scope.REQUEST) as request:
            yield await request.get(DeliverWebhooks)

    return WebhookDeliveryLoop(scope, worker_id)


__all__ = ["WebhookEndpointsProvider", "make_webhook_delivery_loop"]

"""Billing providers: the payment gateway (APP scope) and the billing use cases (REQUEST scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide, provide_all

from asynccoder.adapters.billing.memory_gateway import InMemoryPaymentGateway
from asynccoder.application.billing.catalog import (
    CreatePackage,
    CreatePlan,
    GetEntitlements,
    ListPackages,
    ListPlans,
    UpdatePackage,
    UpdatePlan,
)
from asynccoder.application.billing.checkout import (
    GetSubscription,
    ListInvoices,
    OpenBillingPortal,
    StartCheckout,
)
from asynccoder.application.billing.credits import (
    AdjustCredits,
    ExpireHolds,
    ExtendHold,
    GetCredits,
    GrantCredits,
    ListTransactions,
    RefundCredits,
    ReleaseHold,
    ReserveCredits,
    SettleHold,
)
from asynccoder.application.billing.ports import PaymentGateway
from asynccoder.application.billing.stripe_events import HandleStripeEvent
from asynccoder.application.common.ports import Clock, IdGenerator, UnitOfWork
from asynccoder.ioc.settings import Settings


class BillingProvider(Provider):
    """Stripe when ``STRIPE_SECRET_KEY`` is set, else the in-memory twin (development without Stripe)."""

    @provide(scope=Scope.APP)
    async def payment_gateway(self, settings: Settings, clock: Clock) -> AsyncIterator[PaymentGateway]:
        if not settings.stripe_secret_key:
            yield InMemoryPaymentGateway(clock, settings.stripe_webhook_secret)
            return
        from asynccoder.adapters.billing.stripe_gateway import (  # the SDK only when billing is configured
            AsyncHttpxStripeClient,
            StripePaymentGateway,
            make_stripe_client,
        )

        http_client = AsyncHttpxStripeClient(timeout=20)
        client = make_stripe_client(settings.stripe_secret_key, settings.stripe_api_base, http_client)
        try:
            yield StripePaymentGateway(client, settings.stripe_webhook_secret)
        finally:
            await http_client.close_async()  # type: ignore[no-untyped-call]  # stripe leaves it untyped

    use_cases = provide_all(
        GrantCredits,
        RefundCredits,
        ReserveCredits,
        ExtendHold,
        SettleHold,
        ReleaseHold,
        ExpireHolds,
        AdjustCredits,
        GetCredits,
        ListTransactions,
        ListPlans,
        ListPackages,
        CreatePlan,
        UpdatePlan,
        CreatePackage,
        UpdatePackage,
        GetEntitlements,
        GetSubscription,
        ListInvoices,
        HandleStripeEvent,
        scope=Scope.REQUEST,
    )

    @provide(scope=Scope.REQUEST)
    def start_checkout(
        self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator, settings: Settings
    ) -> StartCheckout:
        return StartCheckout(uow, gateway, clock, ids, settings.public_base_url)

    @provide(scope=Scope.REQUEST)
    def billing_portal(
        self, uow: UnitOfWork, gateway: PaymentGateway, clock: Clock, ids: IdGenerator, settings: Settings
    ) -> OpenBillingPortal:
        return OpenBillingPortal(uow, gateway, clock, ids, settings.public_base_url)

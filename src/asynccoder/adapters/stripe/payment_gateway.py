"""``PaymentGateway`` on the official ``stripe`` SDK (async calls over httpx)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import stripe

from asynccoder.adapters.stripe.stripe_payloads import (
    WEBHOOK_TOLERANCE_SECONDS,
    parse_verified_event,
    subscription_from_object,
)
from asynccoder.application.ports.billing import (
    CheckoutRequest,
    CheckoutSession,
    InvoicePage,
    PaymentEvent,
    PaymentGateway,
    ProviderInvoice,
    SubscriptionChanged,
)
from asynccoder.domain.errors import Conflict, InvalidInput, Refused, Unavailable


class AsyncHttpxStripeClient(stripe.HTTPXClient):
    """The SDK's httpx transport, sending the already form-encoded body as ``content=``: the SDK passes it as
    ``data=``, which current httpx deprecates for raw bytes (a warning on every call)."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(post_data, str | bytes):
            kwargs.pop("data", None)
            kwargs["content"] = post_data
        elif not post_data:
            kwargs.pop("data", None)
        return [args, kwargs]


def make_stripe_client(secret_key: str, api_base: str, http_client: stripe.HTTPClient) -> stripe.StripeClient:
    """A client whose requests go to ``api_base`` through ``http_client`` (an async ``stripe.HTTPXClient``;
    the caller closes it with ``await http_client.close_async()``)."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base},
        http_client=http_client,
        max_network_retries=2,  # retries reuse the same Idempotency-Key, so they are safe
    )


def _translate(exc: stripe.StripeError) -> Exception:
    if isinstance(exc, stripe.IdempotencyError):
        return Conflict(
            "This Idempotency-Key was already used with a different request.", code="idempotency_key_reused"
        )
    if isinstance(exc, stripe.InvalidRequestError):
        return Unavailable("The payment provider refused the request.", code="payment_provider_error")
    return Unavailable("The payment provider is unavailable.", code="payment_provider_unavailable")


def line_item_params(request: CheckoutRequest) -> dict[str, Any]:
    item = request.item
    if item.stripe_price_id:
        return {"price": item.stripe_price_id, "quantity": item.quantity}
    price_data: dict[str, Any] = {
        "currency": "usd",
        "unit_amount": item.unit_amount_cents,
        "product_data": {"name": item.name},
    }
    if item.recurring_monthly:
        price_data["recurring"] = {"interval": "month"}
    return {"price_data": price_data, "quantity": item.quantity}


def checkout_params(request: CheckoutRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": request.mode,
        "customer": request.customer_id,
        "line_items": [line_item_params(request)],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": request.client_reference_id,
        "metadata": request.metadata,
    }
    if request.mode == "subscription":
        params["subscription_data"] = {"metadata": request.metadata}
    else:
        params["payment_intent_data"] = {"metadata": request.metadata}
    return params


class StripePaymentGateway(PaymentGateway):
    """Stripe through ``StripeClient``; idempotency keys come from the caller (derived from our ids)."""

    def __init__(self, client: stripe.StripeClient, webhook_secret: str | None) -> None:
        self._client = client
        self._webhook_secret = webhook_secret

    async def create_customer(self, *, user_id: UUID, email: str, idempotency_key: str) -> str:
        try:
            customer = await self._client.v1.customers.create_async(
                params={"email": email, "metadata": {"user_id": str(user_id)}},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return str(customer.id)

    async def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession:
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                params=checkout_params(request),  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return CheckoutSession(id=str(session.id), url=str(session.url))

    async def create_portal_session(self, *, customer_id: str, return_url: str, idempotency_key: str) -> str:
        try:
            session = await self._client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return str(session.url)

    async def list_invoices(self, *, customer_id: str, limit: int, starting_after: str | None) -> InvoicePage:
        params: dict[str, Any] = {"customer": customer_id, "limit": limit}
        if starting_after:
            params["starting_after"] = starting_after
        try:
            page = await self._client.v1.invoices.list_async(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        items = []
        for invoice in page.data:
            inv = invoice.to_dict()
            items.append(
                ProviderInvoice(
                    id=str(inv["id"]),
                    status=str(inv.get("status") or "draft"),
                    amount_due_cents=int(inv.get("amount_due") or 0),
                    amount_paid_cents=int(inv.get("amount_paid") or 0),
                    currency=str(inv.get("currency") or "usd"),
                    created=datetime.fromtimestamp(int(inv["created"]), UTC),
                    hosted_invoice_url=inv.get("hosted_invoice_url"),
                    number=inv.get("number"),
                )
            )
        return InvoicePage(items=items, has_more=bool(page.has_more))

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionChanged | None:
        try:
            subscription = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise _translate(exc) from None
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        return subscription_from_object(subscription.to_dict())

    def parse_event(self, payload: bytes, signature_header: str | None) -> PaymentEvent:
        if not self._webhook_secret:
            raise Refused("Stripe webhooks are not configured on this server.", code="billing_not_configured")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
            raise InvalidInput("The Stripe signature does not verify.", code="invalid_signature") from None
        return parse_verified_event(payload)
